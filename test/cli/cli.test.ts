// The command line's contract, end to end: the real CLI runs as a child process exactly as a user
// runs it (`npm run cli -- <args>`, i.e. node with tsx and the ?raw loader, cwd = repository root),
// and every run has a timeout, so a hang fails the test instead of stalling the suite.
//
// What a user may rely on: results on stdout (one JSON object with --json), progress on stderr
// only, and for any bad input one line on stderr starting with "error:" and a non-zero exit
// (2 with the usage text for a bad command line), never a stack trace, never a hang.
//
// Models are tiny and built here (src/model/init.ts + src/model/save.ts) except the transformers
// fixtures, which pin the logits command's numbers.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { expectedTensorShapes, loadCheckpoint } from '../../src/model/checkpoint.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { LlamaModel, type ForwardOptions } from '../../src/model/model.ts';
import { parseSafetensors } from '../../src/model/safetensors.ts';
import { serializeCheckpoint } from '../../src/model/save.ts';
import { directorySource } from '../../src/model/source-node.ts';
import { FIXTURES, warnIfNoFixtures } from '../helpers/fixtures.ts';
import { describeWithFixtures } from '../helpers/describe-fixtures.ts';
import { testEngine } from '../helpers/gpu.ts';
import { runCli, describeRun, expectSuccess, type Run } from '../helpers/cli.ts';
import { TINY_CONFIG } from '../helpers/tiny-config.ts';

/** Generous for a tiny model on SwiftShader (a run takes ~1 s), short enough that a hang fails fast. */
const RUN_TIMEOUT_MS = 45_000;

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, env, RUN_TIMEOUT_MS);

/**
 * A failed run: the exit code, nothing on stdout, and exactly one `error:` line on stderr that
 * matches `pattern`. For exit 2 the usage text follows it; otherwise it is all of stderr, unless
 * `foreignLines` (lines the native Vulkan loader prints, outside our control) are allowed.
 */
function expectError(run: Run, pattern: RegExp, options: { code?: number; foreignLines?: boolean } = {}): string {
  const { code = 1, foreignLines = false } = options;
  const what = describeRun(run);
  expect(run.timedOut, what).toBe(false);
  expect(run.code, what).toBe(code);
  expect(run.stdout, what).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  const errors = lines.filter((line) => line.startsWith('error:'));
  expect(errors, what).toHaveLength(1);
  expect(errors[0], what).toMatch(pattern);
  if (!foreignLines) expect(run.stderr, `${what}\nno stack trace`).not.toMatch(/^\s+at /m);
  if (code === 2) {
    expect(lines[0], what).toBe(errors[0]);
    expect(lines[1], what).toMatch(/^usage: /);
  } else if (!foreignLines) {
    expect(lines, what).toEqual(errors);
  }
  return errors[0];
}

// ------------------------------------------------------------------------------------ models

const work = mkdtempSync(join(tmpdir(), 'cli-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Writes a checkpoint directory; `shapes` may be altered to store a wrong shape on purpose. */
function writeModel(
  name: string,
  rawConfig: Record<string, unknown>,
  options: { seed?: number; alterShapes?: (shapes: Map<string, number[]>) => void } = {},
): string {
  const { config, tensors } = initializeCheckpoint(rawConfig, options.seed ?? 1);
  const shapes = expectedTensorShapes(config);
  options.alterShapes?.(shapes);
  const dir = join(work, name);
  mkdirSync(dir);
  for (const [file, bytes] of serializeCheckpoint(rawConfig, tensors, shapes)) writeFileSync(join(dir, file), bytes);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson()));
  return dir;
}

/** A copy of the tiny model with a different config.json or model.safetensors. */
function variant(name: string, files: { config?: Record<string, unknown>; weights?: Uint8Array | null }): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(files.config ?? TINY_CONFIG));
  if (files.weights !== null) writeFileSync(join(dir, 'model.safetensors'), files.weights ?? tinyWeights());
  return dir;
}

let tinyDir = '';
const tinyWeights = () => readFileSync(join(tinyDir, 'model.safetensors'));

/** The safetensors file with its header JSON edited (offsets and the data section unchanged). */
function editHeader(
  bytes: Uint8Array,
  edit: (header: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void,
): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + (bytes.length - 8 - n));
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

function writeJson(name: string, value: unknown): string {
  const path = join(work, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

// A short English text with a few multi-byte characters; the byte-level tokenizer's ids are its UTF-8 bytes.
const TEXT =
  'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in ' +
  'want of a wife. However little known the feelings or views of such a man may be on his first entering ' +
  'a neighbourhood, this truth is so well fixed in the minds of the surrounding families — that he is ' +
  'considered the rightful property of some one or other of their daughters. Café, naïve, déjà vu.\n';
const TEXT_TOKENS = [...Buffer.from(TEXT, 'utf8')].slice(0, 256);
let textPath = '';

beforeAll(() => {
  tinyDir = writeModel('tiny', TINY_CONFIG);
  textPath = join(work, 'text.txt');
  writeFileSync(textPath, TEXT);
  expect(TEXT_TOKENS.length).toBe(256);
});

// ------------------------------------------------------------------------------------ info

describe('info', () => {
  it('prints the config summary and the adapter', async () => {
    const run = await cli(['info', '--model', tinyDir]);
    expectSuccess(run);
    const fields = new Map(
      run.stdout
        .trimEnd()
        .split('\n')
        .map((line) => {
          const [key, ...rest] = line.split(/\s+/);
          return [key, rest.join(' ')] as const;
        }),
    );
    expect(fields.get('architecture')).toBe('Llama, 2 layers, hidden 32, MLP 64, vocab 256');
    expect(fields.get('attention')).toBe('2 query heads, 1 key/value heads, head dim 16');
    expect(fields.get('positions')).toBe('rope');
    expect(fields.get('max_position_embeddings')).toBe('16');
    expect(fields.get('tie_word_embeddings')).toBe('true');
    // The same adapter this process gets (both use nodeGpu() under the same environment).
    const engine = await testEngine();
    expect(fields.get('adapter')).toBe(engine.adapterName);
    if (engine.adapter.description.match(/swiftshader/i)) expect(fields.get('adapter')).toMatch(/SwiftShader.*\(software\)/);
    expect(run.stderr).toBe('');
  });
});

// ------------------------------------------------------------------------------------ logits

warnIfNoFixtures('the CLI logits test against the transformers fixtures');

describeWithFixtures('logits vs the transformers fixtures', () => {
  const T = 48;

  async function logitsRun(name: string, extra: string[] = [], dir = join(FIXTURES, name)) {
    const expected = parseSafetensors(
      new Uint8Array(readFileSync(join(FIXTURES, name, 'expected.safetensors'))),
      `${name}/expected.safetensors`,
    );
    const ids = expected.getI32(`T${T}.input_ids`);
    const B = ids.length / T;
    const rows = Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)));
    const tag = `${name}${extra.join('').replace(/[^a-z0-9.]/gi, '_')}${dir === join(FIXTURES, name) ? '' : '.converted'}`;
    const idsPath = writeJson(`${tag}.ids.json`, rows);
    const out = join(work, `${tag}.out.safetensors`);
    const run = await cli(['logits', '--model', dir, '--ids', idsPath, '--out', out, ...extra]);
    expectSuccess(run);
    expect(run.stdout).toBe('');
    const st = parseSafetensors(new Uint8Array(readFileSync(out)), out);
    const V = 97;
    expect(st.info('logits')).toMatchObject({ dtype: 'F32', shape: [B, T, V] });
    expect(st.info('nll')).toMatchObject({ dtype: 'F32', shape: [B, T - 1] });
    return {
      logits: st.getF32('logits'),
      nll: st.getF32('nll'),
      metadata: st.metadata,
      want: { logits: expected.getF32(`T${T}.logits`), nll: expected.getF32(`T${T}.nll`) },
    };
  }

  const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    expect(a.length).toBe(b.length);
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };

  it('convert --dtype F16 halves the weights and keeps the logits within F16 rounding', async () => {
    const out = join(work, 'llama-rope-f16');
    expectSuccess(await cli(['convert', '--model', join(FIXTURES, 'llama-rope'), '--out', out, '--dtype', 'F16']));
    const weights = parseSafetensors(new Uint8Array(readFileSync(join(out, 'model.safetensors'))), 'converted');
    expect(weights.info('model.embed_tokens.weight').dtype).toBe('F16');
    const converted = await logitsRun('llama-rope', [], out);
    // F16 keeps 11 significant bits: weights move by ~5e-4 relative, logits of ±20 by a few 1e-2.
    const diff = maxAbsDiff(converted.logits, converted.want.logits);
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(0.1);
  });

  for (const [name, other] of [
    ['llama-rope', 'none'],
    ['llama-nope', 'rope'],
  ] as const) {
    it(`${name}: matches transformers; --pos ${other} changes it${name === 'llama-rope' ? '; --beta 1.5 changes it' : ''}`, async () => {
      const base = await logitsRun(name);
      // The fixtures' bounds (absolute): a float32 engine lands near 1e-5 (fixture README).
      expect(maxAbsDiff(base.logits, base.want.logits), `${name} logits`).toBeLessThan(2e-3);
      expect(maxAbsDiff(base.nll, base.want.nll), `${name} nll`).toBeLessThan(1e-3);
      expect(base.metadata.positions).toBe(name === 'llama-rope' ? 'rope' : 'none');

      const switched = await logitsRun(name, ['--pos', other]);
      expect(switched.metadata.positions).toBe(other);
      // Logits reach about ±20; turning RoPE on or off moves them by far more than float noise.
      expect(maxAbsDiff(switched.logits, base.logits), `${name} --pos ${other}`).toBeGreaterThan(0.1);
      expect(maxAbsDiff(switched.nll, base.nll)).toBeGreaterThan(0.01);

      if (name === 'llama-rope') {
        const scaled = await logitsRun(name, ['--beta', '1.5']);
        expect(scaled.metadata.beta).toBe('1.5');
        expect(maxAbsDiff(scaled.logits, base.logits), `${name} --beta 1.5`).toBeGreaterThan(0.1);
      }
    });
  }
});

// ------------------------------------------------------------------------------------ ppl

describe('ppl', () => {
  const LENGTHS = [8, 16, 32];

  /**
   * Token-weighted exp(mean NLL) over the non-overlapping windows of length L, computed here with
   * LlamaModel.nll in two batches of windows (the CLI runs them all in one batch, so batching is
   * checked along the way, at a tenth of the cost of one forward pass per window).
   */
  async function referencePpl(model: LlamaModel, L: number, options: ForwardOptions): Promise<number> {
    const windows = Math.floor(TEXT_TOKENS.length / L);
    const firstBatch = Math.ceil(windows / 2);
    let sum = 0;
    let count = 0;
    for (const [first, B] of [
      [0, firstBatch],
      [firstBatch, windows - firstBatch],
    ]) {
      const nll = await model.nll(TEXT_TOKENS.slice(first * L, (first + B) * L), B, L, options);
      expect(nll.length).toBe(B * (L - 1));
      for (const value of nll) sum += value;
      count += nll.length;
    }
    expect(count).toBe(windows * (L - 1));
    return Math.exp(sum / count);
  }

  function parsePpl(run: Run, lengths = LENGTHS): Record<string, number> {
    expectSuccess(run);
    // Exactly one JSON object on stdout; progress never mixes in.
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines, describeRun(run)).toHaveLength(1);
    const result = JSON.parse(lines[0]);
    expect(Object.keys(result).sort()).toEqual(lengths.map(String).sort());
    for (const value of Object.values(result)) {
      expect(Number.isFinite(value)).toBe(true);
      expect(value).toBeGreaterThan(1);
    }
    return result;
  }

  // Relative: each row's NLL is float32 whatever the batch, and the mean over ~250 tokens,
  // exponentiated, agrees to ~1e-6 relative; 1e-4 leaves room for a different summation order.
  const expectRelClose = (got: number, want: number, what: string) =>
    expect(Math.abs(got - want) / want, `${what}: got ${got}, want ${want}`).toBeLessThan(1e-4);
  const relDiff = (a: number, b: number) => Math.abs(a - b) / b;

  it('prints one JSON object equal to exp(mean NLL) over non-overlapping windows; --beta-c, --pos pi:2', async () => {
    const args = (lengths: number[]) => [
      'ppl',
      '--model',
      tinyDir,
      '--text',
      textPath,
      '--lengths',
      lengths.join(','),
      '--tokens',
      '256',
      '--json',
    ];
    const [base, scaled, pi] = await Promise.all([
      cli(args(LENGTHS)),
      cli([...args(LENGTHS), '--beta-c', '0.5', '--train-ctx', '8']),
      // One length is enough to see the mode reach the model.
      cli([...args([32]), '--pos', 'pi:2']),
    ]);
    const basePpl = parsePpl(base);
    const scaledPpl = parsePpl(scaled);
    const piPpl = parsePpl(pi, [32]);

    // Progress goes to stderr: one line per batch, naming the length and the windows done of all.
    for (const [run, total] of [
      [base, 56],
      [scaled, 56],
      [pi, 8],
    ] as const) {
      expect(run.stderr).toMatch(new RegExp(`^ppl: length 32, window ${total}/${total}\\b`, 'm'));
      expect(
        run.stderr
          .trimEnd()
          .split('\n')
          .every((line) => line.startsWith('ppl: ')),
      ).toBe(true);
    }

    const engine = await testEngine();
    const model = LlamaModel.fromCheckpoint(engine, await loadCheckpoint(directorySource(tinyDir)));
    try {
      for (const L of LENGTHS) expectRelClose(basePpl[L], await referencePpl(model, L, {}), `ppl L=${L}`);
      // DroPE's logit scale beta = 1 + c ln(max(1, L / C_train)): 1 at L = C_train = 8.
      expect(relDiff(scaledPpl[8], basePpl[8]), 'beta-c leaves L=8 alone').toBeLessThan(1e-6);
      for (const L of [16, 32]) expect(relDiff(scaledPpl[L], basePpl[L]), `beta-c changes L=${L}`).toBeGreaterThan(1e-3);
      expectRelClose(scaledPpl[32], await referencePpl(model, 32, { beta: 1 + 0.5 * Math.log(4) }), 'ppl L=32, beta-c 0.5');
      expect(relDiff(piPpl[32], basePpl[32]), 'pi:2 changes L=32').toBeGreaterThan(1e-4);
      expectRelClose(piPpl[32], await referencePpl(model, 32, { positions: { kind: 'pi', factor: 2 } }), 'ppl L=32, pi:2');
    } finally {
      model.destroy();
    }
  });
});

// ------------------------------------------------------------------------------------ bad input

describe.concurrent('bad input: one error line, a non-zero exit, no hang', () => {
  const info = (dir: string) => cli(['info', '--model', dir]);
  const logitsWith = (dir: string, ids: unknown, extra: string[] = []) =>
    cli([
      'logits',
      '--model',
      dir,
      '--ids',
      writeJson(`ids-${Math.random().toString(36).slice(2)}.json`, ids),
      '--out',
      join(work, 'unused.safetensors'),
      ...extra,
    ]);

  it('a missing model directory', async () => {
    expectError(await info(join(work, 'no-such-model')), /^error: checkpoint directory not found: .*no-such-model$/);
  });

  it('a missing model.safetensors', async () => {
    expectError(await info(variant('no-weights', { weights: null })), /has no weights: expected model\.safetensors/);
  });

  it('a model.safetensors cut in the middle of its data', async () => {
    const bytes = tinyWeights();
    const dir = variant('truncated', { weights: bytes.subarray(0, Math.floor(bytes.length * 0.6)) });
    expectError(await info(dir), /model\.safetensors: .*run past the end of the data section.*truncated/);
  });

  it('a header length past the end of the file', async () => {
    const bytes = new Uint8Array(tinyWeights());
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length), true);
    expectError(
      await info(variant('header-length', { weights: bytes })),
      /model\.safetensors: the header length \d+ runs past the end of the file/,
    );
  });

  it('a header that is not JSON', async () => {
    const bytes = new Uint8Array(tinyWeights());
    bytes.fill('#'.charCodeAt(0), 8, 40);
    expectError(await info(variant('header-json', { weights: bytes })), /model\.safetensors: the header is not valid JSON/);
  });

  it('data offsets out of range', async () => {
    const weights = editHeader(tinyWeights(), (h) => {
      const t = h['model.norm.weight'];
      t.data_offsets = [t.data_offsets[0] + 1_000_000, t.data_offsets[1] + 1_000_000];
    });
    expectError(await info(variant('offsets', { weights })), /tensor "model\.norm\.weight": data_offsets \[\d+, \d+\] run past the end/);
  });

  it('an unknown dtype', async () => {
    const weights = editHeader(tinyWeights(), (h) => (h['model.norm.weight'].dtype = 'Q4_K'));
    expectError(await info(variant('dtype', { weights })), /tensor "model\.norm\.weight": unknown dtype "Q4_K"/);
  });

  it('a config the engine cannot run: hidden_act gelu', async () => {
    expectError(
      await info(variant('gelu', { config: { ...TINY_CONFIG, hidden_act: 'gelu' } })),
      /config\.json: unsupported config: hidden_act "gelu"/,
    );
  });

  it('a config the engine cannot run: model_type gpt2', async () => {
    expectError(
      await info(variant('gpt2', { config: { ...TINY_CONFIG, model_type: 'gpt2' } })),
      /config\.json: unsupported config: model_type "gpt2"/,
    );
  });

  it('a tensor with the wrong shape: the message names it and both shapes', async () => {
    const dir = writeModel('wrong-shape', TINY_CONFIG, {
      alterShapes: (shapes) => shapes.set('model.layers.1.mlp.gate_proj.weight', [32, 64]), // transposed
    });
    expectError(
      await info(dir),
      /does not match its config\.json.*tensor model\.layers\.1\.mlp\.gate_proj\.weight .*has shape \[32, 64\], expected \[64, 32\]/,
    );
  });

  it('token ids outside the vocabulary: vocab_size and -1', async () => {
    const [high, negative] = await Promise.all([logitsWith(tinyDir, [[1, 2, 256, 3]]), logitsWith(tinyDir, [[1, -1, 2]])]);
    expectError(high, /^error: token id 256 at \[0, 2\] is outside the vocabulary \(0\.\.255\)$/);
    expectError(negative, /^error: token id -1 at \[0, 1\] is outside the vocabulary \(0\.\.255\)$/);
  });

  it('ragged ids JSON', async () => {
    expectError(
      await logitsWith(tinyDir, [
        [1, 2, 3],
        [4, 5],
      ]),
      /every sequence must have the same, non-zero length/,
    );
  });

  it('an unknown --pos mode: a usage error (exit 2)', async () => {
    expectError(await logitsWith(tinyDir, [[1, 2, 3]], ['--pos', 'spiral']), /--pos: unknown position mode "spiral": expected .*rope/, {
      code: 2,
    });
  });

  it('an unknown command and an unknown option: exit 2 with the usage', async () => {
    const [command, option] = await Promise.all([cli(['frobnicate']), cli(['info', '--model', tinyDir, '--frobnicate'])]);
    expectError(command, /^error: unknown command "frobnicate"$/, { code: 2 });
    expectError(option, /^error: .*'--frobnicate'/, { code: 2 });
  });

  it('no WebGPU adapter: the message says how to get one', async () => {
    const run = await cli(['info', '--model', tinyDir], { VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' });
    // The Vulkan loader and Dawn print warnings (with a native source location) to stderr first;
    // our one error line follows.
    expectError(run, /No WebGPU adapter is available.*VK_ICD_FILENAMES=/, { foreignLines: true });
  });

  it("a request past the device's buffer limits names the limit", async () => {
    // One layer with a wide MLP: the gate activation [T, I] crosses the binding limit at a modest T
    // (16385 here), while the weights stay small (3 × 32 × 16384 floats).
    const I = 16384;
    const dir = writeModel('wide', { ...TINY_CONFIG, intermediate_size: I, num_hidden_layers: 1 });
    const limit = (await testEngine()).limits.maxStorageBufferBindingSize;
    const T = Math.floor(limit / (I * 4)) + 1;
    const run = await logitsWith(dir, [Array.from({ length: T }, (_, i) => i % 256)]);
    expectError(
      run,
      new RegExp(
        `acts\\.gate \\[${T}, ${I}\\] needs \\d+ bytes, more than this adapter's (maxStorageBufferBindingSize|maxBufferSize) \\(\\d+\\)`,
      ),
    );
  });
});
