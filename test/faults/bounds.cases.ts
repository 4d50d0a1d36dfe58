// Fault cases: bounds before work and numbers that must be refused. A small config that asks for a
// huge model, a huge text for a few tokens, options out of range or not finite, position modes that
// would zero or break the rotation; and a trainer state whose metadata was forged or damaged. Every
// run has the harness's heap cap, so a bound that is checked too late runs out of heap and fails.

import { cpSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseSafetensors, writeSafetensors, type WritableTensor } from '../../src/model/safetensors.ts';
import { TRAIN_BOOKS } from '../../src/train/data.ts';
import { sealTrainerState } from '../../src/train/fingerprint-node.ts';
import { describeRun, runCli } from '../helpers/cli.ts';
import { TINY_CONFIG } from '../helpers/tiny-config.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { CASE_TIMEOUT_MS, keepAndRun, type FaultArea, type FaultCase, type FaultRun } from './harness.ts';

export interface BoundFixtures {
  model: string;
  /** A short text. */
  text: string;
  /** An 11 MB text (Persuasion 24 times). */
  bigText: string;
  /** Training data: short texts under the training books' names. */
  data: string;
  /** A run stopped after step 1 of 2, with its trainer state. */
  run: string;
}

/** The training run's options; a resume must repeat them. */
const TRAIN = ['--pos', 'rope', '--steps', '2', '--ctx', '8', '--batch', '1', '--lr', '1e-3', '--seed', '1'];

export async function boundFixtures(dir: string): Promise<BoundFixtures> {
  const text = join(dir, 'text.txt');
  writeFileSync(
    text,
    'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want.\n'.repeat(4),
  );
  const bigText = join(dir, 'big.txt');
  writeFileSync(bigText, readFileSync('public/data/austen/persuasion.txt', 'utf8').repeat(24));
  const data = join(dir, 'data');
  mkdirSync(data);
  for (const book of TRAIN_BOOKS) writeFileSync(join(data, book), `${book}: Emma Woodhouse, handsome, clever, and rich.\n`.repeat(3));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify(TINY_CONFIG));
  const run = join(dir, 'run');
  const trained = await runCli(
    ['train', '--init', 'random', '--config', config, '--out', run, '--data', data, ...TRAIN, '--stop-after', '1'],
    {},
    CASE_TIMEOUT_MS,
  );
  expect(trained.code, describeRun(trained)).toBe(0);
  return { model: writeTinyModel(join(dir, 'model')), text, bigText, data, run };
}

/** A copy of the tiny model with `changes` in its config.json. */
function modelWithConfig(t: FaultRun, f: BoundFixtures, changes: Record<string, unknown>): string {
  const dir = t.path('model');
  cpSync(f.model, dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...TINY_CONFIG, ...changes }));
  t.keep(dir);
  return dir;
}

const ppl = (f: BoundFixtures, ...extra: string[]) => ['ppl', '--model', f.model, '--text', f.text, '--lengths', '8', ...extra];

/** A usage error of `args`, the model untouched. */
const usage = (args: (f: BoundFixtures) => string[]) =>
  keepAndRun(
    (f: BoundFixtures) => [f.model],
    (_, f) => args(f),
  );

/** `train` from scratch into a new folder, with `extra` options after the usual ones. */
const freshRun = (...extra: string[]) =>
  keepAndRun(
    (f: BoundFixtures) => [f.data],
    (t, f) => [
      'train',
      '--init',
      'random',
      '--config',
      'src/train/austen-config.json',
      '--out',
      t.path('run'),
      '--data',
      f.data,
      ...TRAIN,
      ...extra,
    ],
  );

/**
 * A copy of the stopped run whose trainer state `forge` changed (its metadata; `reseal` also
 * recomputes the fingerprint, as a forger who knows it would), resumed.
 */
function forgedState(forge: (metadata: Record<string, string>) => void, reseal: boolean) {
  return async (t: FaultRun, f: BoundFixtures) => {
    const run = t.path('run');
    cpSync(f.run, run, { recursive: true });
    const statePath = join(run, 'trainer_state.safetensors');
    const state = parseSafetensors(new Uint8Array(readFileSync(statePath)), 'state');
    const tensors: Record<string, WritableTensor> = {};
    for (const [name, { shape }] of state.tensors) tensors[name] = { dtype: 'F32', shape, data: state.getF32(name) };
    const metadata = { ...state.metadata };
    forge(metadata);
    const forged = writeSafetensors(tensors, metadata);
    writeFileSync(statePath, reseal ? sealTrainerState(forged, new Uint8Array(readFileSync(join(run, 'model.safetensors')))) : forged);
    t.keep(run);
    return t.cli(['train', '--out', run, '--data', f.data, ...TRAIN, '--resume']);
  };
}

export const BOUND_CASES: FaultArea<FaultCase<BoundFixtures>> = {
  title: 'Bounds and numbers (test/faults/bounds.test.ts)',
  cases: [
    {
      fault: 'a config with num_hidden_layers 1,000,000',
      command: 'info --model MODEL',
      exit: 1,
      says: '"num_hidden_layers" is 1000000, more than the 1024 this engine accepts',
      kept: 'MODEL',
      run: (t, f) => t.cli(['info', '--model', modelWithConfig(t, f, { num_hidden_layers: 1_000_000 })]),
    },
    {
      fault: 'a config within every limit whose parameters exceed the memory',
      command: 'info --model MODEL (vocabulary 4M, hidden 65536, 1024 layers)',
      exit: 1,
      says: 'as f32: more than the',
      kept: 'MODEL',
      run: (t, f) =>
        t.cli([
          'info',
          '--model',
          modelWithConfig(t, f, {
            vocab_size: 2 ** 22,
            hidden_size: 2 ** 16,
            intermediate_size: 2 ** 18,
            num_hidden_layers: 1024,
            num_attention_heads: 512,
            num_key_value_heads: 512,
          }),
        ]),
    },
    {
      fault: 'a YaRN config with attention_factor 0',
      command: 'info --model MODEL',
      exit: 1,
      says: 'attention_factor must be > 0',
      kept: 'MODEL',
      run: (t, f) =>
        t.cli(['info', '--model', modelWithConfig(t, f, { rope_scaling: { rope_type: 'yarn', factor: 4, attention_factor: 0 } })]),
    },
    {
      fault: 'an ids file of 129 MB (sparse: nothing to read)',
      command: 'logits --model MODEL --ids HUGE --out OUT',
      exit: 1,
      says: 'is 129 MB, more than the 128 MB it may be',
      kept: 'MODEL',
      async run(t, f) {
        const ids = t.path('ids.json');
        writeFileSync(ids, '');
        truncateSync(ids, 129 * 2 ** 20);
        t.keep(f.model);
        return t.cli(['logits', '--model', f.model, '--ids', ids, '--out', t.path('out.safetensors')]);
      },
    },
    {
      fault: 'an 11 MB text for 128 tokens',
      command: 'ppl --model MODEL --text BIG --lengths 64 --tokens 128',
      exit: 0,
      says: 'reads a prefix of the text: done within the heap cap (the prefix is exact: test/cli/text-file.test.ts)',
      kept: 'MODEL, BIG',
      run: keepAndRun(
        (f) => [f.model, f.bigText],
        (_, f) => ['ppl', '--model', f.model, '--text', f.bigText, '--lengths', '64', '--tokens', '128', '--json'],
        (run) => expect(Object.keys(JSON.parse(run.stdout))).toEqual(['64']),
      ),
    },
    {
      fault: 'a negative --beta-c',
      command: 'ppl … --beta-c=-10',
      exit: 2,
      says: '--beta-c must be a number in 0..100, got "-10"',
      kept: 'MODEL',
      run: usage((f) => ppl(f, '--beta-c=-10')),
    },
    {
      fault: '--train-ctx Infinity',
      command: 'ppl … --train-ctx Infinity',
      exit: 2,
      says: '--train-ctx must be a number > 0 and <= 16777216, got "Infinity"',
      kept: 'MODEL',
      run: usage((f) => ppl(f, '--train-ctx', 'Infinity')),
    },
    {
      fault: 'a length beyond float32 positions',
      command: 'ppl … --lengths 8,1e30',
      exit: 2,
      says: '--lengths must be an integer in 2..16777216, got "1e30"',
      kept: 'MODEL',
      run: usage((f) => ['ppl', '--model', f.model, '--text', f.text, '--lengths', '8,1e30']),
    },
    {
      fault: 'YaRN attention_factor 0 on the command line',
      command: 'ppl … --pos yarn:2,attention_factor=0',
      exit: 2,
      says: 'attention_factor must be > 0',
      kept: 'MODEL',
      run: usage((f) => ppl(f, '--pos', 'yarn:2,attention_factor=0')),
    },
    {
      fault: 'a negative YaRN beta_fast',
      command: 'ppl … --pos yarn:2,beta_fast=-1',
      exit: 2,
      says: 'beta_fast must be > 0',
      kept: 'MODEL',
      run: usage((f) => ppl(f, '--pos', 'yarn:2,beta_fast=-1')),
    },
    {
      fault: 'an unknown position mode',
      command: 'ppl … --pos spiral',
      exit: 2,
      says: '--pos: unknown position mode "spiral"',
      kept: 'MODEL',
      run: usage((f) => ppl(f, '--pos', 'spiral')),
    },
    {
      fault: 'a logit scale past float32',
      command: 'logits … --beta 1e39',
      exit: 2,
      says: '--beta must be a number > 0 and <= 1000, got "1e39"',
      kept: 'MODEL',
      run: usage((f) => ['logits', '--model', f.model, '--ids', f.text, '--out', 'unused.safetensors', '--beta', '1e39']),
    },
    {
      fault: 'a batch of 10^9',
      command: 'train … --batch 1e9',
      exit: 2,
      says: '--batch must be an integer in 1..16777216, got "1e9"',
      kept: 'DATA',
      run: freshRun('--batch', '1e9'),
    },
    {
      fault: 'a batch and context of 2^26 tokens a step',
      command: 'train … --batch 4096 --ctx 16384',
      exit: 2,
      says: '--batch 4096 × --ctx 16384 is 67108864 tokens a step, more than 16777216',
      kept: 'DATA',
      run: freshRun('--batch', '4096', '--ctx', '16384'),
    },
    {
      fault: 'a seed beyond 32 bits (it would repeat a smaller one)',
      command: 'needle … --seed 4294967296',
      exit: 2,
      says: '--seed must be an integer in 0..4294967295',
      kept: 'MODEL',
      run: usage((f) => ['needle', '--model', f.model, '--lengths', '64', '--seed', '4294967296']),
    },
    {
      fault: 'trainer state: step forged to "NaN"',
      command: 'train --out RUN … --resume',
      exit: 1,
      says: 'do not match the fingerprint they were saved with',
      kept: 'RUN',
      run: forgedState((m) => (m.step = 'NaN'), false),
    },
    {
      fault: 'trainer state: another RNG state',
      command: 'train --out RUN … --resume',
      exit: 1,
      says: 'do not match the fingerprint they were saved with',
      kept: 'RUN',
      run: forgedState((m) => (m.rng = String((Number(m.rng) + 1) % 2 ** 32)), false),
    },
    {
      fault: 'trainer state: step "NaN", fingerprint recomputed',
      command: 'train --out RUN … --resume',
      exit: 1,
      says: '"step" is "NaN", not a step of this run (0..2)',
      kept: 'RUN',
      run: forgedState((m) => (m.step = 'NaN'), true),
    },
    {
      fault: 'trainer state: step past the run, fingerprint recomputed',
      command: 'train --out RUN … --resume',
      exit: 1,
      says: '"step" is "7", not a step of this run (0..2)',
      kept: 'RUN',
      run: forgedState((m) => (m.step = '7'), true),
    },
    {
      fault: 'trainer state: RNG beyond 32 bits, fingerprint recomputed',
      command: 'train --out RUN … --resume',
      exit: 1,
      says: '"rng" is "4294967296", not a 32-bit random generator state',
      kept: 'RUN',
      run: forgedState((m) => (m.rng = '4294967296'), true),
    },
    {
      fault: 'trainer state: a log that does not match the step, fingerprint recomputed',
      command: 'train --out RUN … --resume',
      exit: 1,
      says: '"log" must list one record per step taken (1), got 0',
      kept: 'RUN',
      run: forgedState((m) => (m.log = '[]'), true),
    },
    {
      fault: 'trainer state without a fingerprint (an older version)',
      command: 'train --out RUN … --resume',
      exit: 1,
      says: 'has no fingerprint',
      kept: 'RUN',
      run: forgedState((m) => delete m.checkpoint_sha256, false),
    },
  ],
};
