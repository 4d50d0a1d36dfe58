// The multi-key needle-in-a-haystack test of the DroPE paper (after RULER's "niah_multikey"):
// four sentences "One of the special magic numbers for {key} is: {7-digit number}." hidden at
// seeded places in filler text (a public-domain novel), then a question about one of the keys;
// the model answers by greedy decoding and scores when the first number it writes is exactly the
// seven digits of that key.
//
// Browser-safe: no Node imports. Prompts are built in token-id space (filler ids, needle ids and
// question ids concatenated) so a prompt is exactly the requested number of tokens whatever the
// tokenizer; the price is that a needle may split a filler word, which the test does not mind.

import { Rng } from '../engine/random.ts';
import type { LlamaModel } from '../model/model.ts';
import type { PositionMode } from '../model/positions.ts';
import { logitScale } from './perplexity.ts';

/** How many key/value pairs each prompt hides (the paper's multi-key setting). */
export const NEEDLE_KEYS = 4;
/** Tokens generated per answer: enough for seven digits under any tokenizer that splits digits. */
export const NEEDLE_MAX_NEW_TOKENS = 8;

// Keys are ordinary words, so no tokenizer treats them specially; distinct within a prompt.
const KEY_WORDS = [
  'apple',
  'harbor',
  'lantern',
  'meadow',
  'violin',
  'compass',
  'glacier',
  'orchid',
  'saddle',
  'thimble',
  'walnut',
  'canyon',
  'falcon',
  'pebble',
  'quartz',
  'ribbon',
  'tundra',
  'velvet',
  'whistle',
  'anchor',
  'beacon',
  'cobalt',
  'dune',
  'ember',
  'fjord',
  'garnet',
  'hollow',
  'island',
  'juniper',
  'kettle',
];

export const needleSentence = (key: string, value: string) => ` One of the special magic numbers for ${key} is: ${value}. `;
export const needleQuestion = (key: string) => `\nWhat is the special magic number for ${key}? The special magic number for ${key} is:`;

export interface NeedleTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export interface NeedlePrompt {
  /** The prompt, exactly `length` token ids. */
  ids: number[];
  keys: string[];
  /** The 7-digit number of each key, as text. */
  values: string[];
  /** Which key the question asks for. */
  asked: number;
  /** The expected answer: values[asked]. */
  answer: string;
  /** Token offset in `ids` where each key's sentence starts (in key order). */
  positions: number[];
}

/**
 * One prompt of exactly `length` tokens: filler from `fillerIds` (read cyclically from a seeded
 * offset), the NEEDLE_KEYS sentences at seeded token offsets (sorted, each between two filler
 * tokens, anywhere from the first to the last), and the question at the end.
 * Throws when `length` leaves no room for the needles and the question.
 */
export function buildNeedlePrompt(tokenizer: NeedleTokenizer, fillerIds: readonly number[], length: number, seed: number): NeedlePrompt {
  if (!Number.isInteger(length) || length < 1) throw new Error(`needle prompt length ${length} must be a positive integer`);
  if (fillerIds.length === 0) throw new Error('the filler text has no tokens');
  const rng = new Rng(seed);
  const words = [...KEY_WORDS];
  const keys: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < NEEDLE_KEYS; i++) {
    keys.push(words.splice(rng.int(0, words.length - 1), 1)[0]);
    let value: string;
    do value = String(rng.int(1_000_000, 9_999_999));
    while (values.includes(value));
    values.push(value);
  }
  const asked = rng.int(0, NEEDLE_KEYS - 1);
  const needles = keys.map((key, i) => tokenizer.encode(needleSentence(key, values[i])));
  const question = tokenizer.encode(needleQuestion(keys[asked]));
  const fixed = needles.reduce((sum, n) => sum + n.length, 0) + question.length;
  const fillerCount = length - fixed;
  if (fillerCount < 0) {
    throw new Error(`a needle prompt needs at least ${fixed} tokens for its ${NEEDLE_KEYS} needles and question; ${length} is too short`);
  }

  // Where each needle goes: a filler offset in [0, fillerCount]; sorted, so key order is text order
  // (which key is asked is drawn separately, so depth and key are not tied).
  const offsets = Array.from({ length: NEEDLE_KEYS }, () => rng.int(0, fillerCount)).sort((a, b) => a - b);
  const start = rng.int(0, fillerIds.length - 1);
  const ids: number[] = [];
  const positions: number[] = [];
  let filled = 0;
  const fill = (until: number) => {
    for (; filled < until; filled++) ids.push(fillerIds[(start + filled) % fillerIds.length]);
  };
  for (let i = 0; i < NEEDLE_KEYS; i++) {
    fill(offsets[i]);
    positions.push(ids.length);
    ids.push(...needles[i]);
  }
  fill(fillerCount);
  ids.push(...question);
  if (ids.length !== length) throw new Error(`internal: needle prompt has ${ids.length} tokens, not ${length}`);
  return { ids, keys, values, asked, answer: values[asked], positions };
}

/** Exact match: the first run of digits in the generated text is the 7-digit answer. */
export function scoreNeedleAnswer(generated: string, answer: string): boolean {
  const match = /\d+/.exec(generated);
  return match !== null && match[0] === answer;
}

export interface NeedleForward {
  positions?: PositionMode;
  beta?: number;
  /** Attention window (the crop baseline); absent: none. */
  window?: number;
}

/** Index of the largest value in row `row` of a [rows, V] array (the first on ties). */
function argmaxRow(logits: Float32Array, row: number, V: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let v = 0; v < V; v++) {
    const x = logits[row * V + v];
    if (x > bestValue) {
      bestValue = x;
      best = v;
    }
  }
  return best;
}

/**
 * Greedy decoding of `maxNew` tokens after `ids`: a prefill of the prompt into a KV cache, then one
 * cached step per token, each taking the argmax of the last position's logits.
 */
export async function greedyDecode(
  model: LlamaModel,
  ids: readonly number[],
  maxNew: number,
  options: NeedleForward = {},
): Promise<number[]> {
  const V = model.config.vocabSize;
  const cache = model.createKvCache(ids.length + maxNew);
  const out: number[] = [];
  try {
    let logits = await model.prefill(cache, ids, options);
    for (let step = 0; step < maxNew; step++) {
      const next = argmaxRow(logits, 0, V);
      out.push(next);
      if (step + 1 < maxNew) logits = await model.decode(cache, [next], options);
    }
  } finally {
    cache.destroy();
  }
  return out;
}

export interface NeedleTrial {
  seed: number;
  answer: string;
  asked: string;
  /** The decoded generation. */
  output: string;
  correct: boolean;
  /** Token offsets of the needles in the prompt. */
  positions: number[];
  /** Tokens in the prompt (the requested length). */
  promptTokens: number;
}

export interface NeedleResult {
  length: number;
  trials: NeedleTrial[];
  /** correct / trials. */
  accuracy: number;
  /** The logit scale used at this length. */
  beta: number;
}

export interface NeedleOptions {
  lengths: readonly number[];
  trials: number;
  /** Trial t at any length uses seed `seed + t` (default 0). */
  seed?: number;
  positions?: PositionMode;
  /** Attention window (the crop baseline); absent: none. */
  window?: number;
  /** c of the logit scale beta = 1 + c ln(max(1, L / C_train)); 0 leaves attention as trained. */
  betaC?: number;
  trainContext?: number;
  maxNewTokens?: number;
  onProgress?: (done: number, total: number, length: number) => void;
  cancelled?: () => boolean;
}

/** Success rate of the multi-key needle test at each prompt length, over `trials` seeded prompts. */
export async function needleByLength(
  model: LlamaModel,
  tokenizer: NeedleTokenizer,
  fillerIds: readonly number[],
  options: NeedleOptions,
): Promise<NeedleResult[]> {
  const { lengths, trials, seed = 0, betaC = 0, maxNewTokens = NEEDLE_MAX_NEW_TOKENS } = options;
  const trainContext = options.trainContext ?? model.config.maxPositionEmbeddings;
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`trials ${trials} must be a positive integer`);
  // Fail on a too-short length before any forward pass.
  for (const L of lengths) buildNeedlePrompt(tokenizer, fillerIds, L, seed);
  const total = lengths.length * trials;
  let done = 0;
  const results: NeedleResult[] = [];
  for (const L of lengths) {
    const beta = logitScale(betaC, L, trainContext);
    const runs: NeedleTrial[] = [];
    for (let t = 0; t < trials; t++) {
      if (options.cancelled?.()) throw new Error('cancelled');
      const prompt = buildNeedlePrompt(tokenizer, fillerIds, L, seed + t);
      const generated = await greedyDecode(model, prompt.ids, maxNewTokens, { positions: options.positions, beta, window: options.window });
      const output = tokenizer.decode(generated);
      runs.push({
        seed: seed + t,
        answer: prompt.answer,
        asked: prompt.keys[prompt.asked],
        output,
        correct: scoreNeedleAnswer(output, prompt.answer),
        positions: prompt.positions,
        promptTokens: prompt.ids.length,
      });
      options.onProgress?.(++done, total, L);
    }
    results.push({ length: L, trials: runs, accuracy: runs.filter((r) => r.correct).length / runs.length, beta });
  }
  return results;
}
