// `npm run cli -- eval` end to end on tiny random models: the real CLI as a child process (as in
// test/cli/cli.test.ts), its curve file read back with the web app's reader (parseEvalJson), and
// its numbers checked against perplexities computed here with LlamaModel.nll under the mode and
// logit scale each series should use at each length.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvalJson, type EvalFile } from '../../src/eval/curves.ts';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { expectedTensorShapes, loadCheckpoint } from '../../src/model/checkpoint.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { LlamaModel, type ForwardOptions } from '../../src/model/model.ts';
import { parsePositionMode } from '../../src/model/positions.ts';
import { serializeCheckpoint } from '../../src/model/save.ts';
import { directorySource } from '../../src/model/source-node.ts';
import { testEngine } from '../helpers/gpu.ts';
import { runCli, describeRun, expectSuccess, type Run } from '../helpers/cli.ts';
import { TINY_CONFIG } from '../helpers/tiny-config.ts';

/** A tiny model's eval takes a few seconds on SwiftShader; a hang fails instead of stalling. */
const RUN_TIMEOUT_MS = 90_000;

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, env, RUN_TIMEOUT_MS);

/** Exit code, nothing on stdout, one `error:` line matching `pattern` (then the usage for exit 2). */
function expectError(run: Run, pattern: RegExp, code: number): void {
  expect(run.code, describeRun(run)).toBe(code);
  expect(run.stdout, describeRun(run)).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines[0], describeRun(run)).toMatch(/^error: /);
  expect(lines[0], describeRun(run)).toMatch(pattern);
  expect(lines.filter((line) => line.startsWith('error:'))).toHaveLength(1);
  if (code === 2) expect(lines[1]).toMatch(/^usage: /);
  else expect(lines).toHaveLength(1);
}

const work = mkdtempSync(join(tmpdir(), 'eval-cli-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const DROPE_CONFIG = { ...TINY_CONFIG, model_type: 'llama_drope', architectures: ['DroPELlamaForCausalLM'], attention_type: 'nope' };

function writeModel(name: string, rawConfig: Record<string, unknown>): string {
  const { config, tensors } = initializeCheckpoint(rawConfig, 7);
  const dir = join(work, name);
  mkdirSync(dir);
  for (const [file, bytes] of serializeCheckpoint(rawConfig, tensors, expectedTensorShapes(config))) writeFileSync(join(dir, file), bytes);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson()));
  return dir;
}

// ASCII, so the byte-level tokenizer's ids are the characters' codes.
const TEXT =
  'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in ' +
  'want of a wife. However little known the feelings or views of such a man may be on his first entering.';
const TOKENS = 96; // --tokens: three windows of 32, six of 16, twelve of 8
const IDS = [...Buffer.from(TEXT, 'latin1')].slice(0, TOKENS);

let ropeDir = '';
let dropeDir = '';
let textPath = '';

beforeAll(() => {
  ropeDir = writeModel('tiny-rope', TINY_CONFIG);
  dropeDir = writeModel('tiny-drope', DROPE_CONFIG);
  textPath = join(work, 'austen.txt');
  writeFileSync(textPath, TEXT);
  expect(IDS).toHaveLength(TOKENS);
});

/** exp(mean NLL) over the non-overlapping windows of length L, all in one batch as the CLI runs them. */
async function referencePpl(model: LlamaModel, L: number, options: ForwardOptions): Promise<number> {
  const windows = Math.floor(TOKENS / L);
  const nll = await model.nll(IDS.slice(0, windows * L), windows, L, options);
  let sum = 0;
  for (const value of nll) sum += value;
  return Math.exp(sum / nll.length);
}

// Relative: the same float32 computation in another process; 1e-5 leaves room for nothing but
// a different summation order of the mean.
const expectRelClose = (got: number, want: number, what: string) =>
  expect(Math.abs(got - want) / want, `${what}: got ${got}, want ${want}`).toBeLessThan(1e-5);

describe('eval', () => {
  it('a RoPE model: every mode and the RoPE-dropped series in one file, each point as the mode of its length gives', async () => {
    const out = join(work, 'rope-eval.json');
    // Lengths out of order on purpose: the file lists them increasing.
    const run = await cli([
      'eval',
      '--model',
      ropeDir,
      '--text',
      textPath,
      '--lengths',
      '32,8,16',
      '--tokens',
      String(TOKENS),
      '--beta-c',
      '0.5',
      '--out',
      out,
    ]);
    expectSuccess(run);
    // Progress on stderr only, naming the series; a table on stdout (a header and one row per length).
    const stderr = run.stderr.trimEnd().split('\n');
    expect(
      stderr.slice(0, -1).every((line) => line.startsWith('eval: ')),
      describeRun(run),
    ).toBe(true);
    expect(run.stderr).toMatch(/^eval: RoPE dropped, β c=0\.5 \(7\/7\), length 32, window 21\/21\b/m);
    expect(stderr[stderr.length - 1]).toBe(`wrote 7 series × 3 lengths to ${out}`);
    const table = run.stdout.trimEnd().split('\n');
    expect(table).toHaveLength(4);
    expect(table[0].trim().split(/\s{2,}/)).toEqual([
      'length',
      'RoPE',
      'PI',
      'NTK',
      'YaRN',
      'Dynamic NTK',
      'RoPE, cropped to the last 16 tokens',
      'RoPE dropped, β c=0.5',
    ]);

    const file: EvalFile = parseEvalJson(readFileSync(out, 'utf8'), out);
    expect(file).toMatchObject({
      format: 'drope-playground/eval',
      version: 2,
      model: 'tiny-rope',
      text: 'austen.txt',
      tokens: TOKENS,
      train_ctx: 16,
      lengths: [8, 16, 32],
    });
    expect(file.series.map((s) => [s.id, s.positions, s.beta_c])).toEqual([
      ['rope', 'rope', 0],
      ['pi', 'pi:L/C', 0],
      ['ntk', 'ntk:L/C', 0],
      ['yarn', 'yarn:L/C', 0],
      ['dynamic', 'dynamic:L/C', 0],
      ['crop', 'rope', 0],
      ['none', 'none', 0.5],
    ]);
    expect(file.series.map((s) => s.window)).toEqual([undefined, undefined, undefined, undefined, undefined, 16, undefined]);
    const byId = Object.fromEntries(file.series.map((s) => [s.id, s]));
    expect(byId.yarn.modes).toEqual({ '8': 'rope', '16': 'rope', '32': 'yarn:2' });
    expect(byId.none.modes).toEqual({ '8': 'none', '16': 'none', '32': 'none' });
    // At or below C_train every scaled mode is RoPE (and the crop's window holds every key): the
    // same computation, the same bits.
    for (const id of ['pi', 'ntk', 'yarn', 'dynamic', 'crop']) {
      for (const L of ['8', '16']) expect(byId[id].ppl[L], `${id} at ${L}`).toBe(byId.rope.ppl[L]);
      expect(Math.abs(byId[id].ppl['32'] - byId.rope.ppl['32']) / byId.rope.ppl['32'], `${id} at 32 differs from RoPE`).toBeGreaterThan(
        1e-4,
      );
    }

    const engine = await testEngine();
    const model = LlamaModel.fromCheckpoint(engine, await loadCheckpoint(directorySource(ropeDir)));
    try {
      // Every point of every series: the mode the file names at that length, beta = 1 + c ln(max(1, L/16)).
      for (const series of file.series) {
        for (const L of file.lengths) {
          const positions = parsePositionMode(series.modes[String(L)]);
          const beta = 1 + series.beta_c * Math.log(Math.max(1, L / 16));
          const point = await referencePpl(model, L, { positions, beta, window: series.window });
          expectRelClose(series.ppl[String(L)], point, `${series.id} at ${L}`);
        }
      }
      // And the modes are the intended ones (not merely self-consistent): factor L / C_train = 2 at 32.
      expectRelClose(byId.pi.ppl['32'], await referencePpl(model, 32, { positions: { kind: 'pi', factor: 2 } }), 'pi:2 at 32');
      expectRelClose(
        byId.dynamic.ppl['32'],
        await referencePpl(model, 32, { positions: { kind: 'dynamic', factor: 2 } }),
        'dynamic:2 at 32',
      );
      expectRelClose(
        byId.none.ppl['32'],
        await referencePpl(model, 32, { positions: { kind: 'none' }, beta: 1 + 0.5 * Math.log(2) }),
        'none, beta at 32',
      );
    } finally {
      model.destroy();
    }
  });

  it('a DroPE model: --modes none, no --out prints the file as one JSON line; --train-ctx sets C', async () => {
    const run = await cli([
      'eval',
      '--model',
      dropeDir,
      '--text',
      textPath,
      '--lengths',
      '8,32',
      '--tokens',
      String(TOKENS),
      '--modes',
      'none',
      '--train-ctx',
      '8',
    ]);
    expectSuccess(run);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines, describeRun(run)).toHaveLength(1);
    const file = parseEvalJson(lines[0]);
    expect(file.train_ctx).toBe(8);
    expect(file.series).toHaveLength(1);
    expect(file.series[0]).toMatchObject({
      id: 'none',
      label: 'DroPE',
      positions: 'none',
      beta_c: 0,
      modes: { '8': 'none', '32': 'none' },
    });
  });

  it('--none-label names the none series (a model without positions may be NoPE from scratch)', async () => {
    const run = await cli([
      'eval',
      '--model',
      dropeDir,
      '--text',
      textPath,
      '--lengths',
      '8',
      '--tokens',
      String(TOKENS),
      '--modes',
      'none',
      '--none-label',
      'NoPE',
    ]);
    expectSuccess(run);
    expect(parseEvalJson(run.stdout.trim()).series[0].label).toBe('NoPE');
  });

  it('bad input: one error line and a non-zero exit', async () => {
    const base = ['eval', '--model', ropeDir, '--text', textPath, '--tokens', String(TOKENS)];
    const [modes, betaWithoutNone, twice, pos, tooShort] = await Promise.all([
      cli([...base, '--lengths', '8', '--modes', 'rope,spiral']),
      cli([...base, '--lengths', '8', '--modes', 'rope,pi', '--beta-c', '0.3']),
      cli([...base, '--lengths', '8,16,8']),
      cli([...base, '--lengths', '8', '--pos', 'pi:2']),
      cli([...base, '--lengths', '8,128', '--modes', 'rope']),
    ]);
    expectError(modes, /--modes: unknown series "spiral"/, 2);
    expectError(betaWithoutNone, /--beta-c scales the "none" series, which --modes leaves out/, 2);
    expectError(twice, /--lengths lists 8 twice/, 2);
    expectError(pos, /choose the series with --modes, not --pos/, 2);
    expectError(tooShort, /has 96 tokens, fewer than one window of 128/, 1);
  });
});
