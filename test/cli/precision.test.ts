// `--weights f16` on the command line: the logits command on the transformers fixture with the
// weight matrices in half precision, close to the f32 run; a bad value and training refuse clearly.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../src/model/safetensors.ts';
import { expectClose, maxAbs } from '../helpers/compare.ts';
import { describeRun, expectSuccess, runCli } from '../helpers/cli.ts';
import { FIXTURES, haveFixtures, warnIfNoFixtures } from '../helpers/fixtures.ts';

warnIfNoFixtures('the CLI --weights f16 comparison');

/** A tiny model on SwiftShader runs in about a second; a hang fails fast. */
const RUN_TIMEOUT_MS = 45_000;

const work = mkdtempSync(join(tmpdir(), 'cli-f16-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!haveFixtures)('cli --weights f16', () => {
  const dir = join(FIXTURES, 'llama-rope');
  const expected = () => parseSafetensors(new Uint8Array(readFileSync(join(dir, 'expected.safetensors'))), 'expected.safetensors');

  it('logits --weights f16 runs and lands within 1e-2 of the f32 logits and of transformers', async () => {
    const T = 48;
    const ids = Array.from(expected().getI32(`T${T}.input_ids`));
    const rows = Array.from({ length: ids.length / T }, (_, b) => ids.slice(b * T, (b + 1) * T));
    const idsPath = join(work, 'ids.json');
    writeFileSync(idsPath, JSON.stringify(rows));
    const logitsOf = async (extra: string[]) => {
      const out = join(work, `logits${extra.join('')}.safetensors`);
      const run = await runCli(['logits', '--model', dir, '--ids', idsPath, '--out', out, ...extra], {}, RUN_TIMEOUT_MS);
      expectSuccess(run);
      return parseSafetensors(new Uint8Array(readFileSync(out)), out).getF32('logits');
    };
    const [f32, f16] = [await logitsOf([]), await logitsOf(['--weights', 'f16'])];
    // See test/model/f16-weights.test.ts: binary16 rounding moves these logits by ~2e-4 of their scale.
    expectClose(f16, f32, { tolerance: 1e-2, what: 'cli logits --weights f16 vs f32' });
    expectClose(f16, expected().getF32(`T${T}.logits`), { tolerance: 1e-2, what: 'cli logits --weights f16 vs transformers' });
    let moved = 0;
    for (let i = 0; i < f16.length; i++) moved = Math.max(moved, Math.abs(f16[i] - f32[i]));
    expect(moved, `the f16 run differs from f32 at all (scale ${maxAbs(f32)})`).toBeGreaterThan(0);
  }, 2 * RUN_TIMEOUT_MS);

  it('rejects --weights f8 with the usage text, and grads on f16 weights with one error line', async () => {
    const idsPath = join(work, 'short-ids.json');
    writeFileSync(idsPath, JSON.stringify([[1, 2, 3, 4]]));
    const bad = await runCli(['logits', '--model', dir, '--ids', idsPath, '--out', join(work, 'x'), '--weights', 'f8'], {}, RUN_TIMEOUT_MS);
    expect(bad.code, describeRun(bad)).toBe(2);
    expect(bad.stderr, describeRun(bad)).toMatch(/^error: --weights must be f32 or f16, got "f8"/);
    const grads = await runCli(['grads', '--model', dir, '--ids', idsPath, '--out', join(work, 'g.safetensors'), '--weights', 'f16'], {}, RUN_TIMEOUT_MS);
    expect(grads.code, describeRun(grads)).toBe(1);
    expect(grads.stderr, describeRun(grads)).toMatch(/^error: training needs f32 weights/m);
  }, 2 * RUN_TIMEOUT_MS);
});
