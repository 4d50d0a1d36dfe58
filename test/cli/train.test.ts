// The training commands of the CLI end to end (src/cli/train.ts): `train` on a tiny random model
// and a tiny five-book corpus (what it writes, exact stop-and-resume, DroPE, the NaN guard, refusals
// and corrupt inputs), `grads` against the transformers fixtures, and `fit-beta`. The real CLI
// runs as a child process exactly as `npm run cli -- <args>` runs it (see test/cli/cli.test.ts).
//
// Each CLI start costs a second or two (tsx, Dawn, pipeline compilation), so independent runs go
// in parallel and the runs several tests read are made once, in beforeAll.

import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_CONFIG as TINY_CONFIG_BASE } from '../helpers/tiny-config.ts';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { expectedTensorShapes } from '../../src/model/checkpoint.ts';
import { parseConfig } from '../../src/model/config.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { parseSafetensors } from '../../src/model/safetensors.ts';
import { serializeCheckpoint } from '../../src/model/save.ts';
import { TRAIN_BOOKS } from '../../src/train/data.ts';
import { learningRate } from '../../src/train/schedule.ts';
import { FIXTURES, warnIfNoFixtures, fixtureExpected } from '../helpers/fixtures.ts';
import { describeWithFixtures } from '../helpers/describe-fixtures.ts';
import { runCli, describeRun, expectSuccess, type Run } from '../helpers/cli.ts';

/** A tiny run takes a few seconds on SwiftShader, several times that on a busy machine; a hang fails. */
const RUN_TIMEOUT_MS = 90_000;

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, env, RUN_TIMEOUT_MS);

/** The exit code, nothing on stdout, exactly one `error:` line (matching `pattern`) and no stack trace. */
function expectError(run: Run, pattern: RegExp, code = 1): string {
  const what = describeRun(run);
  expect(run.timedOut, what).toBe(false);
  expect(run.code, what).toBe(code);
  expect(run.stdout, what).toBe('');
  const errors = run.stderr.split('\n').filter((line) => line.startsWith('error:'));
  expect(errors, what).toHaveLength(1);
  expect(errors[0], what).toMatch(pattern);
  expect(run.stderr, `${what}\nno stack trace`).not.toMatch(/^\s+at /m);
  if (code === 2) expect(run.stderr, what).toMatch(/^usage: /m);
  return errors[0];
}

// ------------------------------------------------------------------------------------ setup

const work = mkdtempSync(join(tmpdir(), 'train-cli-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// The shared tiny model (about 20k parameters: a training step takes a fraction of a second) at the
// usual init scale 0.02, which these training tests' expectations were set with.
const TINY_CONFIG = { ...TINY_CONFIG_BASE, initializer_range: 0.02 };

// Five short texts under the training books' names: about 1,300 byte tokens in all.
const BOOKS = [
  'Elinor, this eldest daughter, whose advice was so effectual, possessed a strength of understanding.',
  'It is a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.',
  'About thirty years ago Miss Maria Ward, of Huntingdon, with only seven thousand pounds, had the good luck to captivate Sir Thomas.',
  'Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition, seemed to unite some of the best blessings.',
  'No one who had ever seen Catherine Morland in her infancy would have supposed her born to be an heroine.',
].map((line) => `${line}\n`.repeat(2));

const STEPS = 6;
let dataDir = '';
let configPath = '';

/** `train` on the tiny corpus; `extra` adds or overrides options. */
function train(out: string, extra: string[] = []): Promise<Run> {
  return cli([
    'train',
    '--out',
    out,
    '--data',
    dataDir,
    '--pos',
    'rope',
    '--steps',
    String(STEPS),
    '--ctx',
    '16',
    '--batch',
    '2',
    '--lr',
    '1e-2',
    '--seed',
    '3',
    ...extra,
  ]);
}

const fresh = ['--init', 'random', '--config'];
let fullRun: Run;
let fullDir = '';
let stoppedRun: Run;
let stoppedDir = '';
/** Copies of the stopped run taken before it is resumed, for the failure cases. */
const stoppedCopy = (name: string) => {
  const dir = join(work, name);
  cpSync(stoppedDir, dir, { recursive: true });
  return dir;
};
let copies: Record<'corrupt' | 'mismatched' | 'otherSteps', string>;

interface TrainLog {
  positions: string;
  options: Record<string, unknown>;
  tokens_in_training_text: number;
  steps: { step: number; loss: number; lr: number; grad_norm: number; tokens_per_s: number; retrieval?: number }[];
}
const readLog = (dir: string): TrainLog => JSON.parse(readFileSync(join(dir, 'train_log.json'), 'utf8'));
const readConfig = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const readWeights = (dir: string) =>
  parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), `${dir}/model.safetensors`);
const readState = (dir: string) =>
  parseSafetensors(new Uint8Array(readFileSync(join(dir, 'trainer_state.safetensors'))), `${dir}/trainer_state.safetensors`);

beforeAll(async () => {
  dataDir = join(work, 'austen');
  mkdirSync(dataDir);
  TRAIN_BOOKS.forEach((book, i) => writeFileSync(join(dataDir, book), BOOKS[i]));
  configPath = join(work, 'tiny-config.json');
  writeFileSync(configPath, JSON.stringify(TINY_CONFIG));
  fullDir = join(work, 'full');
  stoppedDir = join(work, 'stopped');
  // The uninterrupted run, and the same run stopped after step 3.
  [fullRun, stoppedRun] = await Promise.all([
    train(fullDir, [...fresh, configPath]),
    train(stoppedDir, [...fresh, configPath, '--stop-after', '3']),
  ]);
  expectSuccess(fullRun);
  expectSuccess(stoppedRun);
  copies = { corrupt: stoppedCopy('corrupt-state'), mismatched: stoppedCopy('mismatched'), otherSteps: stoppedCopy('other-steps') };
});

const RUN_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'train_log.json', 'trainer_state.safetensors'];

// ------------------------------------------------------------------------------------ train

describe('train', () => {
  it('writes a checkpoint with its tokenizer, log and trainer state, which `info` loads', async () => {
    expect(fullRun.stdout.trimEnd().split('\n')).toHaveLength(1);
    const summary = JSON.parse(fullRun.stdout);
    const log = readLog(fullDir);
    expect(summary).toEqual({ out: fullDir, steps: STEPS, total_steps: STEPS, final_loss: log.steps[STEPS - 1].loss });
    // Exactly the run's files: no temporary files left behind, none missing.
    expect(readdirSync(fullDir).sort()).toEqual(RUN_FILES);
    expect(readdirSync(work).filter((name) => name.endsWith('.tmp'))).toEqual([]);

    expect(log.positions).toBe('rope');
    expect(log.options).toEqual({ steps: 6, ctx: 16, batch: 2, lr: 0.01, warmup: 0, seed: 3, positions: 'rope', records: null });
    // Every byte of the five books, joined by blank lines: the byte-level tokenizer's count.
    expect(log.tokens_in_training_text).toBe(BOOKS.reduce((n, text) => n + Buffer.byteLength(text), 0) + 2 * 4);
    expect(log.steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const [i, s] of log.steps.entries()) {
      expect(Number.isFinite(s.loss) && Number.isFinite(s.grad_norm)).toBe(true);
      expect(s.lr).toBe(learningRate(i, { peak: 0.01, warmup: 0, total: STEPS }));
    }
    // A fresh byte-level model starts near ln 256 and learns something in six steps.
    expect(log.steps[0].loss).toBeGreaterThan(5);
    expect(log.steps[0].loss).toBeLessThan(6);
    expect(log.steps[5].loss).toBeLessThan(log.steps[0].loss);

    expect(readConfig(fullDir)).toMatchObject({ ...TINY_CONFIG, torch_dtype: 'float32' });
    const weights = readWeights(fullDir);
    const shapes = expectedTensorShapes(parseConfig(TINY_CONFIG));
    expect([...weights.tensors.keys()].sort()).toEqual([...shapes.keys()].sort());
    const state = readState(fullDir);
    expect(state.metadata).toMatchObject({ format: 'drope-playground/trainer-state', version: '1', step: '6' });

    const info = await cli(['info', '--model', fullDir, '--json']);
    expectSuccess(info);
    expect(JSON.parse(info.stdout)).toMatchObject({
      architecture: 'Llama, 2 layers, hidden 32, MLP 64, vocab 256',
      positions: 'rope',
      attention_type: 'rope',
      max_position_embeddings: 16,
    });
  });

  it('stop after step 3, then --resume: the same losses and the same weights as the uninterrupted run', async () => {
    expect(JSON.parse(stoppedRun.stdout)).toMatchObject({ steps: 3, total_steps: STEPS });
    expect(stoppedRun.stderr).toMatch(/stopped after step 3 of 6; run again with --resume to continue/);
    expect(readLog(stoppedDir).steps).toHaveLength(3);
    expect(readState(stoppedDir).metadata.step).toBe('3');

    // Everything but the data location and --stop-after as before; --init and --config are not needed to resume.
    const resumed = await train(stoppedDir, ['--resume']);
    expectSuccess(resumed);
    expect(resumed.stderr).toMatch(/^train: resuming at step 3,/m);
    const full = readLog(fullDir).steps;
    const continued = readLog(stoppedDir).steps;
    expect(continued.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // Bit for bit: the optimizer moments, the step and the data order all came back.
    expect(continued.map((s) => s.loss)).toEqual(full.map((s) => s.loss));
    expect(continued.map((s) => s.grad_norm)).toEqual(full.map((s) => s.grad_norm));
    expect(readFileSync(join(stoppedDir, 'model.safetensors')).equals(readFileSync(join(fullDir, 'model.safetensors')))).toBe(true);
  });

  it('refuses to continue with another total of steps, another lr, or weights that are not the saved ones', async () => {
    // Weights from another step beside this trainer state: what a save interrupted between its renames leaves.
    cpSync(join(fullDir, 'model.safetensors'), join(copies.mismatched, 'model.safetensors'));
    const [steps, lr, mismatched] = await Promise.all([
      train(copies.otherSteps, ['--resume', '--steps', '8']),
      train(copies.otherSteps, ['--resume', '--lr', '2e-2']),
      train(copies.mismatched, ['--resume']),
    ]);
    expectError(
      steps,
      /cannot resume the run in .*other-steps: cannot resume: the saved run has steps = 6, this one 8 \(the learning-rate schedule spans/,
    );
    expectError(lr, /the saved run has lr = 0\.01, this one 0\.02/);
    expectError(
      mismatched,
      /cannot resume the run in .*mismatched: model\.safetensors and trainer_state\.safetensors do not match the fingerprint they were saved with/,
    );
    expect(readState(copies.otherSteps).metadata.step).toBe('3');
  });

  it('refuses to overwrite a run without --resume, or a directory that holds no run', async () => {
    const plain = join(work, 'plain-checkpoint');
    cpSync(fullDir, plain, { recursive: true });
    rmSync(join(plain, 'trainer_state.safetensors'));
    const before = readFileSync(join(plain, 'model.safetensors'));
    const [again, fromItself, resumeOther] = await Promise.all([
      train(fullDir, [...fresh, configPath]),
      // DroPE written over its own source checkpoint.
      cli([
        'train',
        '--from',
        plain,
        '--out',
        plain,
        '--data',
        dataDir,
        '--pos',
        'none',
        '--steps',
        '2',
        '--ctx',
        '16',
        '--batch',
        '2',
        '--lr',
        '1e-3',
      ]),
      train(plain, ['--resume', ...fresh, configPath]),
    ]);
    expectError(again, /full already holds a training run: add --resume to continue it, or choose another --out/, 2);
    expectError(fromItself, /--out .*plain-checkpoint is the input --from .*plain-checkpoint: it would be replaced/, 2);
    expectError(resumeOther, /plain-checkpoint is not empty and holds no training run/, 2);
    expect(readFileSync(join(plain, 'model.safetensors')).equals(before)).toBe(true);
    expect(readState(fullDir).metadata.step).toBe('6');
  });

  it('DroPE: --from a RoPE run with --pos none, and with --qk-norm (fresh QK-norm gains)', async () => {
    const nope = join(work, 'drope');
    const qk = join(work, 'drope-qk');
    const lr = 1e-3;
    const from = (out: string, extra: string[] = []) =>
      cli([
        'train',
        '--from',
        fullDir,
        '--out',
        out,
        '--data',
        dataDir,
        '--pos',
        'none',
        '--steps',
        '2',
        '--ctx',
        '16',
        '--batch',
        '2',
        '--lr',
        String(lr),
        ...extra,
      ]);
    const [nopeRun, qkRun] = await Promise.all([from(nope), from(qk, ['--qk-norm'])]);
    expectSuccess(nopeRun);
    expectSuccess(qkRun);
    for (const [dir, attentionType] of [
      [nope, 'nope'],
      [qk, 'qk_norm_nope'],
    ] as const) {
      expect(readdirSync(dir).sort()).toEqual(RUN_FILES);
      // The rest of the config is the source's.
      expect(readConfig(dir)).toEqual({
        ...readConfig(fullDir),
        model_type: 'llama_drope',
        architectures: ['DroPELlamaForCausalLM'],
        attention_type: attentionType,
      });
      expect(readLog(dir).positions).toBe('none');
      expect(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).toBe(readFileSync(join(fullDir, 'tokenizer.json'), 'utf8'));
    }
    const source = readWeights(fullDir);
    const plainNames = [...source.tensors.keys()].sort();
    expect([...readWeights(nope).tensors.keys()].sort()).toEqual(plainNames);
    const qkWeights = readWeights(qk);
    const norms = [...qkWeights.tensors.keys()].filter((name) => /\.(q|k)_norm\.weight$/.test(name)).sort();
    expect(norms).toEqual(
      ['0', '1'].flatMap((l) => [`model.layers.${l}.self_attn.k_norm.weight`, `model.layers.${l}.self_attn.q_norm.weight`]),
    );
    expect([...qkWeights.tensors.keys()].filter((name) => !norms.includes(name)).sort()).toEqual(plainNames);
    const qkShapes = expectedTensorShapes(parseConfig(readConfig(qk)));
    for (const name of norms) {
      // Gains start at 1; two AdamW steps (no weight decay on gains) move each by at most about 2·lr.
      const gains = qkWeights.getF32(name);
      expect(qkWeights.info(name).shape).toEqual(qkShapes.get(name));
      for (const g of gains) expect(Math.abs(g - 1), name).toBeLessThanOrEqual(2 * lr * 1.01);
      expect(
        gains.some((g) => g !== 1),
        `${name} was trained`,
      ).toBe(true);
    }
    const info = await cli(['info', '--model', qk, '--json']);
    expectSuccess(info);
    expect(JSON.parse(info.stdout)).toMatchObject({ positions: 'none', attention_type: 'qk_norm_nope' });
  });

  it('--records mixes the records task into the text, and the retrieval monitor logs success at 1x', async () => {
    // The monitor reads the held-out book from --data.
    const data = join(work, 'austen-records');
    cpSync(dataDir, data, { recursive: true });
    writeFileSync(join(data, 'persuasion.txt'), BOOKS.join(''));
    const dir = join(work, 'records');
    const recordsRun = (out: string, extra: string[]) =>
      cli([
        'train',
        '--out',
        out,
        '--data',
        data,
        '--pos',
        'rope',
        '--steps',
        '4',
        '--ctx',
        '16',
        '--batch',
        '2',
        '--lr',
        '1e-2',
        ...fresh,
        configPath,
        ...extra,
      ]);
    const run = await recordsRun(dir, ['--records', 'lookup', '--records-max', '2', '--monitor-every', '2', '--monitor-trials', '8']);
    expectSuccess(run);
    const log = readLog(dir);
    expect(log.options.records).toEqual({ format: 'lookup', plainShare: 0.2, maxRecords: 2 });
    expect(log.steps.map((s) => s.retrieval !== undefined)).toEqual([false, true, false, true]);
    for (const s of log.steps) if (s.retrieval !== undefined) expect(s.retrieval >= 0 && s.retrieval <= 1).toBe(true);
    expect(run.stderr).toMatch(/train: step 2, loss \d+\.\d+, retrieval at 1x \d+\.\d%/);
    // A window too short for the records, a format that does not exist, a monitor without records.
    expectError(
      await recordsRun(join(work, 'records-bad1'), ['--records', 'lookup']),
      /4 lookup records with their queries need more than the 16-token window/,
    );
    expectError(await recordsRun(join(work, 'records-bad2'), ['--records', 'spiral']), /--records: unknown records format "spiral"/, 2);
    expectError(await recordsRun(join(work, 'records-bad3'), ['--monitor-every', '2']), /--monitor-every goes with --records/, 2);
  });

  it('a non-finite loss or gradient stops training: with no checkpoint yet, and keeping the last good one', async () => {
    // A checkpoint with one NaN weight.
    const poisonedDir = join(work, 'poisoned');
    mkdirSync(poisonedDir);
    const { config, tensors } = initializeCheckpoint(TINY_CONFIG, 5);
    tensors.get('model.layers.1.mlp.up_proj.weight')![7] = NaN;
    for (const [file, bytes] of serializeCheckpoint(TINY_CONFIG, tensors, expectedTensorShapes(config)))
      writeFileSync(join(poisonedDir, file), bytes);
    writeFileSync(join(poisonedDir, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson()));

    const fromNaN = join(work, 'from-nan');
    const diverged = join(work, 'diverged');
    const [nanRun, divergedRun] = await Promise.all([
      train(fromNaN, ['--from', poisonedDir]),
      // An absurd learning rate: the weights after step 1 are ~1e30 and step 2's gradient is not
      // finite. A checkpoint is saved after every step (--save-minutes of a few milliseconds).
      train(diverged, [...fresh, configPath, '--lr', '1e30', '--save-minutes', '0.0001']),
    ]);
    expectError(
      nanRun,
      /^error: step 1: the loss \(NaN\) or the gradient norm \(NaN\) is not finite; training stopped before applying it; no checkpoint had been saved yet$/,
    );
    expect(existsSync(fromNaN)).toBe(false);

    expectError(
      divergedRun,
      /^error: step 2: .* is not finite; training stopped before applying it; the last good checkpoint in .*diverged is kept$/,
    );
    expect(readdirSync(diverged).sort()).toEqual(RUN_FILES);
    expect(readState(diverged).metadata.step).toBe('1');
    expect(readLog(diverged).steps).toHaveLength(1);
  });

  it('corrupt inputs: a truncated model.safetensors in --from, a corrupt trainer state on --resume', async () => {
    const truncated = join(work, 'truncated');
    cpSync(fullDir, truncated, { recursive: true });
    const bytes = readFileSync(join(truncated, 'model.safetensors'));
    writeFileSync(join(truncated, 'model.safetensors'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    const state = readFileSync(join(copies.corrupt, 'trainer_state.safetensors'));
    writeFileSync(join(copies.corrupt, 'trainer_state.safetensors'), state.subarray(0, Math.floor(state.length / 2)));

    const [fromTruncated, resumeCorrupt] = await Promise.all([
      train(join(work, 'from-truncated'), ['--from', truncated, '--pos', 'none']),
      train(copies.corrupt, ['--resume']),
    ]);
    expectError(fromTruncated, /truncated.*model\.safetensors: .*run past the end of the data section.*truncated/);
    expect(existsSync(join(work, 'from-truncated'))).toBe(false);
    expectError(resumeCorrupt, /^error: cannot resume the run in .*corrupt-state: .*trainer_state\.safetensors: .*truncated file/);
  });
});

// ------------------------------------------------------------------------------------ grads

warnIfNoFixtures('the CLI grads test against the transformers fixtures');

describeWithFixtures('grads vs the transformers fixtures', () => {
  for (const name of ['llama-rope', 'llama-nope']) {
    it(`${name}: the loss and every parameter gradient match transformers`, async () => {
      const dir = join(FIXTURES, name);
      const expected = fixtureExpected(dir);
      const T = 48;
      const ids = expected.getI32(`T${T}.input_ids`);
      const B = ids.length / T;
      const idsPath = join(work, `${name}.ids.json`);
      writeFileSync(idsPath, JSON.stringify(Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)))));
      const out = join(work, `${name}.grads.safetensors`);
      const run = await cli(['grads', '--model', dir, '--ids', idsPath, '--out', out]);
      expectSuccess(run);
      expect(run.stdout).toBe('');
      const got = parseSafetensors(new Uint8Array(readFileSync(out)), out);

      // The loss: the mean of transformers' per-token NLL (float64, stored as float32).
      const nll = expected.getF32(`T${T}.nll`);
      const wantLoss = nll.reduce((sum, v) => sum + v, 0) / nll.length;
      expect(got.info('loss')).toMatchObject({ dtype: 'F32', shape: [] });
      expect(Math.abs(got.getF32('loss')[0] - wantLoss), `loss ${got.getF32('loss')[0]} vs ${wantLoss}`).toBeLessThan(1e-4);

      const prefix = `T${T}.grad.`;
      const wantNames = [...expected.tensors.keys()]
        .filter((key) => key.startsWith(prefix))
        .map((key) => key.slice(prefix.length))
        .sort();
      const gotNames = [...got.tensors.keys()].filter((key) => key !== 'loss').sort();
      expect(gotNames).toEqual(wantNames.map((n) => `grad.${n}`));
      for (const tensor of wantNames) {
        const want = expected.getF32(`${prefix}${tensor}`);
        const have = got.getF32(`grad.${tensor}`);
        expect(got.info(`grad.${tensor}`).shape).toEqual(expected.info(`${prefix}${tensor}`).shape);
        let largest = 0;
        let worst = 0;
        for (let i = 0; i < want.length; i++) {
          largest = Math.max(largest, Math.abs(want[i]));
          worst = Math.max(worst, Math.abs(have[i] - want[i]));
        }
        // Relative to the tensor's largest gradient: float32 accumulation against a float64 reference.
        expect(worst, `${tensor}: max |diff| ${worst}, largest |grad| ${largest}`).toBeLessThanOrEqual(1e-3 * largest);
      }
    });
  }
});

// ------------------------------------------------------------------------------------ fit-beta

describe('fit-beta', () => {
  it('prints one JSON object: the c of the grid with the lowest mean log-perplexity, its betas, every score', async () => {
    const textPath = join(work, 'held-out.txt');
    writeFileSync(textPath, BOOKS.join(''));
    const grid = [0, 0.5, 1];
    const run = await cli([
      'fit-beta',
      '--model',
      fullDir,
      '--text',
      textPath,
      '--lengths',
      '8,32',
      '--tokens',
      '128',
      '--train-ctx',
      '8',
      '--pos',
      'none',
      '--grid',
      grid.join(','),
    ]);
    expectSuccess(run);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines, describeRun(run)).toHaveLength(1);
    const result = JSON.parse(lines[0]) as {
      c: number;
      train_ctx: number;
      beta: Record<string, number>;
      ppl: Record<string, Record<string, number>>;
    };
    expect(grid).toContain(result.c);
    expect(result.train_ctx).toBe(8);
    expect(Object.keys(result.ppl).sort()).toEqual(grid.map(String));
    const score = (c: number) => (Math.log(result.ppl[String(c)]['8']) + Math.log(result.ppl[String(c)]['32'])) / 2;
    for (const c of grid) {
      expect(Object.keys(result.ppl[String(c)]).sort()).toEqual(['32', '8']);
      expect(score(result.c)).toBeLessThanOrEqual(score(c));
    }
    // beta = 1 at L ≤ C_train, so L = 8 scores the same for every c; 32 does not.
    expect(result.ppl['0']['8']).toBe(result.ppl['1']['8']);
    expect(result.ppl['0']['32']).not.toBe(result.ppl['1']['32']);
    expect(result.beta).toEqual({ '8': 1, '32': 1 + result.c * Math.log(4) });
  });
});
