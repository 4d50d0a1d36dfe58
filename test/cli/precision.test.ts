// `--weights f16` and `--precision` on the command line: the logits command on the transformers
// fixture with the weight matrices (and, with --precision f16, the activations) in half precision,
// close to the f32 run; auto follows the adapter's shader-f16; bad values and training refuse clearly.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { parseSafetensors } from '../../src/model/safetensors.ts';
import { expectClose, maxAbs } from '../helpers/compare.ts';
import { describeRun, expectSuccess, runCli } from '../helpers/cli.ts';
import { FIXTURES, warnIfNoFixtures, fixtureExpected } from '../helpers/fixtures.ts';
import { describeWithFixtures } from '../helpers/describe-fixtures.ts';
import { LAVAPIPE_ADAPTER } from '../../src/engine/node-gpu.ts';

warnIfNoFixtures('the CLI --weights f16 comparison');

/** A tiny model on SwiftShader runs in about a second; a hang fails fast. */
const RUN_TIMEOUT_MS = 45_000;

const work = mkdtempSync(join(tmpdir(), 'cli-f16-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const T = 48;
const dir = join(FIXTURES, 'llama-rope');
const expected = () => fixtureExpected(dir);

/** The fixture's T=48 ids as an --ids file. */
function idsFile(): string {
  const ids = Array.from(expected().getI32(`T${T}.input_ids`));
  const rows = Array.from({ length: ids.length / T }, (_, b) => ids.slice(b * T, (b + 1) * T));
  const idsPath = join(work, 'ids.json');
  writeFileSync(idsPath, JSON.stringify(rows));
  return idsPath;
}

/** `logits` with extra options (and environment), its output read back. */
async function logitsOf(extra: string[], env: Record<string, string> = {}): Promise<Float32Array> {
  const out = join(work, `logits${extra.join('')}${env.WEBGPU_ADAPTER ?? ''}.safetensors`);
  const run = await runCli(['logits', '--model', dir, '--ids', idsFile(), '--out', out, ...extra], env, RUN_TIMEOUT_MS);
  expectSuccess(run);
  return parseSafetensors(new Uint8Array(readFileSync(out)), out).getF32('logits');
}

describeWithFixtures('cli --weights f16', () => {
  it(
    'logits --weights f16 runs and lands within 1e-2 of the f32 logits and of transformers',
    async () => {
      const [f32, f16] = [await logitsOf([]), await logitsOf(['--weights', 'f16'])];
      // See test/model/f16-weights.test.ts: binary16 rounding moves these logits by ~2e-4 of their scale.
      expectClose(f16, f32, { tolerance: 1e-2, what: 'cli logits --weights f16 vs f32' });
      expectClose(f16, expected().getF32(`T${T}.logits`), { tolerance: 1e-2, what: 'cli logits --weights f16 vs transformers' });
      let moved = 0;
      for (let i = 0; i < f16.length; i++) moved = Math.max(moved, Math.abs(f16[i] - f32[i]));
      expect(moved, `the f16 run differs from f32 at all (scale ${maxAbs(f32)})`).toBeGreaterThan(0);
    },
    2 * RUN_TIMEOUT_MS,
  );

  it(
    'rejects --weights f8 with the usage text, and grads on f16 weights with one error line',
    async () => {
      const idsPath = join(work, 'short-ids.json');
      writeFileSync(idsPath, JSON.stringify([[1, 2, 3, 4]]));
      const bad = await runCli(
        ['logits', '--model', dir, '--ids', idsPath, '--out', join(work, 'x'), '--weights', 'f8'],
        {},
        RUN_TIMEOUT_MS,
      );
      expect(bad.code, describeRun(bad)).toBe(2);
      expect(bad.stderr, describeRun(bad)).toMatch(/^error: --weights must be f32 or f16, got "f8"/);
      const grads = await runCli(
        ['grads', '--model', dir, '--ids', idsPath, '--out', join(work, 'g.safetensors'), '--weights', 'f16'],
        {},
        RUN_TIMEOUT_MS,
      );
      expect(grads.code, describeRun(grads)).toBe(1);
      expect(grads.stderr, describeRun(grads)).toMatch(/^error: training needs f32 weights/m);
    },
    2 * RUN_TIMEOUT_MS,
  );
});

describeWithFixtures('cli --precision', () => {
  const lavapipe = { WEBGPU_ADAPTER: LAVAPIPE_ADAPTER };

  it(
    'f16 on an adapter with shader-f16 (lavapipe): within 1e-2 of transformers; auto there is f16',
    async () => {
      const f32 = await logitsOf([], lavapipe);
      const f16 = await logitsOf(['--precision', 'f16'], lavapipe);
      // test/model/f16-activations.test.ts: f16 weights and activations move these logits by ~5e-4 of their scale.
      expectClose(f16, expected().getF32(`T${T}.logits`), { tolerance: 1e-2, what: 'cli logits --precision f16 vs transformers' });
      expectClose(f16, f32, { tolerance: 1e-2, what: 'cli logits --precision f16 vs f32' });
      expect(
        f16.some((v, i) => v !== f32[i]),
        'f16 differs from f32 at all',
      ).toBe(true);
      expect(Array.from(await logitsOf(['--precision', 'auto'], lavapipe))).toEqual(Array.from(f16));
    },
    4 * RUN_TIMEOUT_MS,
  );

  it(
    'on SwiftShader (no shader-f16): auto is f32, f16 is a usage error naming the feature',
    async () => {
      const f32 = await logitsOf([]);
      expect(Array.from(await logitsOf(['--precision', 'auto']))).toEqual(Array.from(f32));
      const run = await runCli(
        ['logits', '--model', dir, '--ids', idsFile(), '--out', join(work, 'x'), '--precision', 'f16'],
        {},
        RUN_TIMEOUT_MS,
      );
      expect(run.code, describeRun(run)).toBe(2);
      expect(run.stderr, describeRun(run)).toMatch(
        /^error: --precision f16: f16 precision needs the adapter feature shader-f16, which .*SwiftShader.* does not have/,
      );
      const bad = await runCli(
        ['logits', '--model', dir, '--ids', idsFile(), '--out', join(work, 'x'), '--precision', 'f8'],
        {},
        RUN_TIMEOUT_MS,
      );
      expect(bad.code, describeRun(bad)).toBe(2);
      expect(bad.stderr, describeRun(bad)).toMatch(/^error: --precision must be one of auto, f32, f16, got "f8"/);
    },
    4 * RUN_TIMEOUT_MS,
  );
});
