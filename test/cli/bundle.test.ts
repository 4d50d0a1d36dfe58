// `npm run bench:bundle` (scripts/bundle.mjs): the command line and the bench as plain JavaScript
// with the Dawn addon beside them, run with a bare `node` from a copy of the folder outside the
// repository (no node_modules, no tsx), as on a machine with a GPU it is carried to.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeRun, expectSuccess, ROOT, runNode } from '../helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'bundle-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('bench:bundle', () => {
  const built = join(work, 'built');
  const carried = join(work, 'elsewhere', 'dist-bench');

  it('writes cli.mjs, bench.mjs and the Dawn addon, under 64 MiB', () => {
    execFileSync(process.execPath, ['scripts/bundle.mjs', built], { cwd: ROOT, stdio: 'pipe' });
    const files = ['cli.mjs', 'bench.mjs', 'dist/linux-x64/dawn.node'].map((f) => join(built, f));
    for (const f of files) expect(existsSync(f), f).toBe(true);
    const bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
    expect(bytes).toBeLessThan(64 * 2 ** 20);
    cpSync(built, carried, { recursive: true });
  }, 120_000);

  it('runs from a copy outside the repository: the CLI measures a shipped model, the bench lists its sections', async () => {
    const model = join(ROOT, 'public/models/austen-rope');
    const info = await runNode([join(carried, 'cli.mjs'), 'info', '--model', model], carried);
    expectSuccess(info);
    expect(info.stdout).toMatch(/^adapter\s+\S/m);
    const text = join(ROOT, 'public/data/austen/persuasion.txt');
    const ppl = await runNode(
      [join(carried, 'cli.mjs'), 'ppl', '--model', model, '--text', text, '--lengths', '32', '--tokens', '64', '--json'],
      carried,
    );
    expectSuccess(ppl);
    const perplexity = (JSON.parse(ppl.stdout) as Record<string, number>)['32'];
    expect(perplexity, describeRun(ppl)).toBeGreaterThan(1);
    expect(perplexity).toBeLessThan(256);
    const bench = await runNode([join(carried, 'bench.mjs'), 'no-such-section'], carried);
    expect(bench.code, describeRun(bench)).toBe(2);
    expect(bench.stderr).toMatch(
      /^error: unknown section no-such-section; the sections are matmul, attention, forward, training, precision, decode, smollm, profile$/m,
    );
  }, 120_000);
});
