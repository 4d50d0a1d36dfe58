// The needle-in-a-haystack prompts (src/eval/needle.ts) with a byte-level tokenizer written here
// (ids = the UTF-8 bytes, as the austen models' tokenizer), and `npm run cli -- needle` end to end on a
// tiny random model (it scores about 0; the shape of its output and the prompt lengths are what count).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNeedlePrompt, greedyDecode, NEEDLE_KEYS, needleQuestion, needleSentence, scoreNeedleAnswer } from '../../src/eval/needle.ts';
import { byteLevelTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { expectedTensorShapes, loadCheckpoint } from '../../src/model/checkpoint.ts';
import { initializeCheckpoint } from '../../src/model/init.ts';
import { LlamaModel } from '../../src/model/model.ts';
import { serializeCheckpoint } from '../../src/model/save.ts';
import { directorySource } from '../../src/model/source-node.ts';
import { testEngine } from '../helpers/gpu.ts';
import { runCli } from '../helpers/cli.ts';

const bytes = {
  encode: (text: string) => [...new TextEncoder().encode(text)],
  decode: (ids: number[]) => new TextDecoder().decode(new Uint8Array(ids)),
};
const FILLER = 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ';
const fillerIds = bytes.encode(FILLER);

describe('buildNeedlePrompt', () => {
  it('has exactly the requested length, four needles at their offsets and the question at the end', () => {
    for (const length of [400, 401, 1000, 4097]) {
      for (const seed of [0, 1, 2, 17]) {
        const p = buildNeedlePrompt(bytes, fillerIds, length, seed);
        expect(p.ids, `length ${length} seed ${seed}`).toHaveLength(length);
        expect(p.keys).toHaveLength(NEEDLE_KEYS);
        expect(new Set(p.keys).size).toBe(NEEDLE_KEYS);
        expect(new Set(p.values).size).toBe(NEEDLE_KEYS);
        for (const v of p.values) expect(v).toMatch(/^[1-9]\d{6}$/);
        expect(p.answer).toBe(p.values[p.asked]);
        const text = bytes.decode(p.ids);
        expect(text.endsWith(needleQuestion(p.keys[p.asked]))).toBe(true);
        // Each needle sits at its recorded offset, in increasing order, and is in the prompt once.
        for (let i = 0; i < NEEDLE_KEYS; i++) {
          const sentence = bytes.encode(needleSentence(p.keys[i], p.values[i]));
          expect(p.ids.slice(p.positions[i], p.positions[i] + sentence.length)).toEqual(sentence);
          if (i > 0)
            expect(p.positions[i]).toBeGreaterThanOrEqual(
              p.positions[i - 1] + bytes.encode(needleSentence(p.keys[i - 1], p.values[i - 1])).length,
            );
          expect(text.split(`magic numbers for ${p.keys[i]} is`)).toHaveLength(2);
        }
        // Everything else is filler, in order from some offset, cyclically.
        const needleSpans = p.keys.map((k, i) => [p.positions[i], p.positions[i] + bytes.encode(needleSentence(k, p.values[i])).length]);
        const question = bytes.encode(needleQuestion(p.keys[p.asked]));
        const filler = p.ids.slice(0, length - question.length).filter((_, j) => !needleSpans.some(([a, b]) => j >= a && j < b));
        const start = fillerIds.indexOf(filler[0]);
        expect(start).toBeGreaterThanOrEqual(0);
        const offsetOk = fillerIds.some((_, s) => filler.every((id, j) => fillerIds[(s + j) % fillerIds.length] === id));
        expect(offsetOk).toBe(true);
      }
    }
  });

  it('is deterministic in the seed, and seeds differ in keys, values and depths', () => {
    const a = buildNeedlePrompt(bytes, fillerIds, 800, 5);
    expect(buildNeedlePrompt(bytes, fillerIds, 800, 5)).toEqual(a);
    const others = [6, 7, 8, 9].map((s) => buildNeedlePrompt(bytes, fillerIds, 800, s));
    expect(others.every((o) => o.values.join() !== a.values.join())).toBe(true);
    expect(others.some((o) => o.positions.join() !== a.positions.join())).toBe(true);
    // Over many seeds the needles reach both ends of the haystack and every key gets asked.
    const many = Array.from({ length: 200 }, (_, s) => buildNeedlePrompt(bytes, fillerIds, 800, s));
    expect(Math.min(...many.map((p) => p.positions[0]))).toBeLessThan(40);
    const q = bytes.encode(needleQuestion('x')).length;
    expect(Math.max(...many.map((p) => p.positions[3]))).toBeGreaterThan(800 - q - 100);
    expect(new Set(many.map((p) => p.asked))).toEqual(new Set([0, 1, 2, 3]));
  });

  it('refuses a length too short for the needles and question, naming the minimum', () => {
    expect(() => buildNeedlePrompt(bytes, fillerIds, 100, 0)).toThrow(/needs at least \d+ tokens.*100 is too short/);
    expect(() => buildNeedlePrompt(bytes, [], 1000, 0)).toThrow(/no tokens/);
  });
});

describe('scoreNeedleAnswer', () => {
  it('is an exact match of the first number', () => {
    expect(scoreNeedleAnswer(' 1234567.', '1234567')).toBe(true);
    expect(scoreNeedleAnswer('1234567', '1234567')).toBe(true);
    expect(scoreNeedleAnswer(' 123456.', '1234567')).toBe(false);
    expect(scoreNeedleAnswer(' 12345678', '1234567')).toBe(false);
    expect(scoreNeedleAnswer(' 7654321 1234567', '1234567')).toBe(false);
    expect(scoreNeedleAnswer(' one two', '1234567')).toBe(false);
    expect(scoreNeedleAnswer(' 1,234,567', '1234567')).toBe(false);
  });
});

const work = mkdtempSync(join(tmpdir(), 'needle-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TINY_CONFIG = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  vocab_size: 256,
  hidden_size: 32,
  intermediate_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  hidden_act: 'silu',
  tie_word_embeddings: true,
  initializer_range: 0.2,
};

function writeModel(): string {
  const { config, tensors } = initializeCheckpoint(TINY_CONFIG, 3);
  const dir = join(work, 'tiny');
  mkdirSync(dir);
  for (const [file, data] of serializeCheckpoint(TINY_CONFIG, tensors, expectedTensorShapes(config))) writeFileSync(join(dir, file), data);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson()));
  return dir;
}

const cli = (args: string[]) => runCli(args, {}, 120_000);

describe('needle on a tiny random model', () => {
  const dir = writeModel();

  it('greedy decoding (KV-cached) takes the argmax of the last position, as one forward pass gives it', async () => {
    const engine = await testEngine();
    const model = LlamaModel.fromCheckpoint(engine, await loadCheckpoint(directorySource(dir)));
    try {
      const prompt = bytes.encode('Persuasion, by Jane Austen');
      const out = await greedyDecode(model, prompt, 3);
      expect(out).toHaveLength(3);
      // Independent check: one forward over prompt + first two generated tokens.
      const T = prompt.length + 2;
      const logits = await model.logits([...prompt, out[0], out[1]], 1, T);
      for (let step = 0; step < 3; step++) {
        const row = logits.subarray((prompt.length - 1 + step) * 256, (prompt.length + step) * 256);
        expect(out[step], `step ${step}`).toBe(row.indexOf(Math.max(...row)));
      }
    } finally {
      model.destroy();
    }
  }, 60_000);

  it('`cli needle --json`: one result per length with trials of the requested prompt length', async () => {
    const textPath = join(work, 'filler.txt');
    writeFileSync(textPath, FILLER.repeat(3));
    const run = await cli([
      'needle',
      '--model',
      dir,
      '--lengths',
      '320,400',
      '--trials',
      '2',
      '--text',
      textPath,
      '--pos',
      'none',
      '--beta-c',
      '0.5',
      '--train-ctx',
      '64',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]);
    expect(out).toMatchObject({ model: dir, text: 'filler.txt', positions: 'none', beta_c: 0.5, train_ctx: 64, trials: 2 });
    expect(out.results.map((r: { length: number }) => r.length)).toEqual([320, 400]);
    for (const r of out.results) {
      expect(r.beta).toBeCloseTo(1 + 0.5 * Math.log(r.length / 64), 10);
      expect(r.trials).toHaveLength(2);
      expect(r.accuracy).toBe(r.trials.filter((t: { correct: boolean }) => t.correct).length / 2);
      for (const t of r.trials) {
        expect(t.prompt_tokens).toBe(r.length);
        expect(t.answer).toMatch(/^\d{7}$/);
        expect(t.needle_positions).toHaveLength(4);
        expect(typeof t.output).toBe('string');
        expect(t.correct).toBe(scoreNeedleAnswer(t.output, t.answer));
      }
    }
    expect(run.stderr).toMatch(/needle: length 400, trial 4\/4/);

    const short = await cli(['needle', '--model', dir, '--lengths', '50', '--text', textPath]);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^error: .*50 is too short/);
  }, 240_000);
});
