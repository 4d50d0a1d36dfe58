// The records task: associative recall mixed into byte-level text, the toy models' version of
// the DroPE paper's multi-key needle in a haystack. Key–value records sit at random places in
// ordinary text; later a query names one key, and the next token must be that key's value
// (greedy, exact match). Records and queries use bytes that never occur in the Austen corpus
// (which uses 82 byte values, all below 0x80 except 0xC2 0xA3 for "£"), so the task needs content
// matching, not spelling.
//
// Bytes (RECORD_ALPHABET): QUERY_BYTE 0x80 marks a query; KEY_BYTES are the 16 bytes after it;
// LOOKUP_BYTES the next 80. Values are the digit bytes '0'..'9'.
//   lookup  a record is ONE byte, LOOKUP_BYTES[10k + d]: "key k has value d" (8 keys). The query
//           is QUERY_BYTE, KEY_BYTES[k]; the answer the digit d. The model must find the record
//           whose byte belongs to key k and read its digit off the byte: a one-token lookup.
//   mqar    a record is TWO bytes, KEY_BYTES[k] then the digit d (16 keys): multi-query
//           associative recall (Arora et al. 2023). Same query and answer; the model must find
//           the key and copy the token after it.
//
// Training windows (recordsWindow): with probability plainShare a plain text window, otherwise
// 1..maxRecords records with distinct keys and digits, each queried later in the same window
// (query and answer included, so the answer's loss teaches the task). The test prompt
// (buildRecordsPrompt): a held-out text of length L with K = 4 records at uniformly random
// depths and one query at the very end; the model's greedy next token is scored. A trial is
// *inside* when the queried record lies in the last `window` tokens (C_train: the only ones the
// crop baseline sees) and *outside* otherwise.
//
// Browser-safe: no Node imports.

import { Rng } from '../engine/random.ts';
import type { LlamaModel } from '../model/model.ts';
import type { PositionMode } from '../model/positions.ts';
import { logitScale } from './perplexity.ts';

export const RECORD_FORMATS = ['lookup', 'mqar'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];

/** Records hidden in each test prompt (the paper's multi-key setting has four needles). */
export const TEST_RECORDS = 4;

/** The byte values 0x80..0xFF the corpus never uses (0xA3 and 0xC2 spell "£"), in order. */
const RECORD_ALPHABET = Array.from({ length: 128 }, (_, i) => 0x80 + i).filter((b) => b !== 0xa3 && b !== 0xc2);
export const QUERY_BYTE = RECORD_ALPHABET[0];
export const KEY_BYTES = RECORD_ALPHABET.slice(1, 17);
export const LOOKUP_BYTES = RECORD_ALPHABET.slice(17, 97);
const DIGIT_0 = 0x30;

/** How many keys a format has. */
export function keyCount(format: RecordFormat): number {
  return format === 'lookup' ? LOOKUP_BYTES.length / 10 : KEY_BYTES.length;
}

/** The tokens of one record: key k has value d. */
export function recordTokens(format: RecordFormat, key: number, digit: number): number[] {
  return format === 'lookup' ? [LOOKUP_BYTES[key * 10 + digit]] : [KEY_BYTES[key], DIGIT_0 + digit];
}

/** The query for key k (its answer follows it). */
export function queryTokens(key: number): number[] {
  return [QUERY_BYTE, KEY_BYTES[key]];
}

/** The token that answers a query whose value is d. */
export function answerToken(digit: number): number {
  return DIGIT_0 + digit;
}

export function parseRecordFormat(text: string): RecordFormat {
  if (!(RECORD_FORMATS as readonly string[]).includes(text)) {
    throw new Error(`unknown records format "${text}": expected ${RECORD_FORMATS.join(' or ')}`);
  }
  return text as RecordFormat;
}

/** Throws, naming `what` and the offset, when the text holds a byte the records task reserves. */
export function assertNoRecordBytes(tokens: ArrayLike<number>, what: string): void {
  const reserved = new Set(RECORD_ALPHABET.slice(0, 97));
  for (let i = 0; i < tokens.length; i++) {
    if (reserved.has(tokens[i])) {
      throw new Error(
        `${what} holds byte 0x${tokens[i].toString(16)} at offset ${i}, which the records task reserves for its records and queries`,
      );
    }
  }
}

/** `count` distinct integers from 0..n-1. */
function distinct(rng: Rng, count: number, n: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, () => pool.splice(rng.int(0, pool.length - 1), 1)[0]);
}

/** An inserted item: its tokens, and where in the text it goes (before text token `at`). */
interface Insert {
  at: number;
  tokens: number[];
}

/** Text tokens with items inserted (stable: items at one offset keep their order). */
function interleave(text: ArrayLike<number>, inserts: Insert[]): number[] {
  const sorted = inserts.map((item, order) => ({ ...item, order })).sort((a, b) => a.at - b.at || a.order - b.order);
  const out: number[] = [];
  let next = 0;
  for (const item of sorted) {
    for (; next < item.at; next++) out.push(text[next]);
    out.push(...item.tokens);
  }
  for (; next < text.length; next++) out.push(text[next]);
  return out;
}

export interface RecordsMixture {
  format: RecordFormat;
  /** Share of training windows that stay plain text. */
  plainShare: number;
  /** Each other window carries 1..maxRecords records, each queried later in the window. */
  maxRecords: number;
}

export const DEFAULT_MIXTURE: RecordsMixture = { format: 'lookup', plainShare: 0.2, maxRecords: 4 };

/** Tokens one record, its query and answer take in a training window. */
function recordCost(format: RecordFormat): number {
  return recordTokens(format, 0, 0).length + queryTokens(0).length + 1;
}

/** Checks a mixture against the window length it will fill. */
export function checkMixture(mixture: RecordsMixture, T: number): void {
  const { format, plainShare, maxRecords } = mixture;
  if (!(plainShare >= 0 && plainShare <= 1)) throw new Error(`the plain-text share must be in 0..1, got ${plainShare}`);
  if (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > Math.min(10, keyCount(format))) {
    throw new Error(`records per window must be an integer in 1..${Math.min(10, keyCount(format))}, got ${maxRecords}`);
  }
  if (maxRecords * recordCost(format) >= T) {
    throw new Error(`${maxRecords} ${format} records with their queries need more than the ${T}-token window`);
  }
}

/**
 * One training window of T tokens: `text` is T plain tokens (a random window of the corpus); with
 * probability plainShare it is returned as is, otherwise its first T - n·cost tokens carry n
 * records, each with its query and answer later in the window.
 */
export function recordsWindow(rng: Rng, text: ArrayLike<number>, T: number, mixture: RecordsMixture): number[] {
  if (rng.next() < mixture.plainShare) return Array.from(text).slice(0, T);
  const { format } = mixture;
  const n = rng.int(1, mixture.maxRecords);
  const textCount = T - n * recordCost(format);
  const keys = distinct(rng, n, keyCount(format));
  const digits = distinct(rng, n, 10);
  const records: Insert[] = [];
  const queries: Insert[] = [];
  for (let i = 0; i < n; i++) {
    const a = rng.int(0, textCount);
    const b = rng.int(0, textCount);
    records.push({ at: Math.min(a, b), tokens: recordTokens(format, keys[i], digits[i]) });
    queries.push({ at: Math.max(a, b), tokens: [...queryTokens(keys[i]), answerToken(digits[i])] });
  }
  // Records first: at an offset shared with a query, the record comes before it.
  const inserts = [...records, ...queries];
  return interleave(Array.from(text).slice(0, textCount), inserts);
}

export interface RecordsPrompt {
  /** Exactly `length` token ids: text, TEST_RECORDS records, and the query at the end. */
  ids: number[];
  /** The expected next token. */
  answer: number;
  /** Where the queried record starts in ids. */
  recordStart: number;
}

/**
 * One test prompt of exactly `length` tokens from `textIds` (read cyclically from a random
 * offset): TEST_RECORDS records with distinct keys and digits at uniformly random depths, then the
 * query for one of them (drawn separately, so depth and key are not tied).
 */
export function buildRecordsPrompt(textIds: ArrayLike<number>, length: number, format: RecordFormat, rng: Rng): RecordsPrompt {
  const recordLength = recordTokens(format, 0, 0).length;
  const textCount = length - TEST_RECORDS * recordLength - queryTokens(0).length;
  if (!Number.isInteger(length) || textCount < 0) {
    throw new Error(`a records prompt needs at least ${length - textCount} tokens; ${length} is too short`);
  }
  if (textIds.length === 0) throw new Error('the text has no tokens');
  const keys = distinct(rng, TEST_RECORDS, keyCount(format));
  const digits = distinct(rng, TEST_RECORDS, 10);
  const asked = rng.int(0, TEST_RECORDS - 1);
  const depths = keys.map(() => rng.int(0, textCount));
  const start = rng.int(0, textIds.length - 1);
  const text = Array.from({ length: textCount }, (_, i) => textIds[(start + i) % textIds.length]);
  const inserts = keys.map((key, i) => ({ at: depths[i], tokens: recordTokens(format, key, digits[i]) }));
  const ids = [...interleave(text, inserts), ...queryTokens(keys[asked])];
  // The queried record starts after the text before it and after the records inserted before it.
  const earlier = inserts.filter((item, i) => item.at < depths[asked] || (item.at === depths[asked] && i < asked)).length;
  const recordStart = depths[asked] + earlier * recordLength;
  return { ids, answer: answerToken(digits[asked]), recordStart };
}

/** The seed of trial t at length L: prompts differ across lengths and trials, and repeat across runs. */
export function trialSeed(seed: number, length: number, trial: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(length, 0x85ebca6b) ^ Math.imul(trial + 1, 0xc2b2ae35)) >>> 0;
}

export interface RetrievalPoint {
  /** Success rate over all trials. */
  all: number;
  /** Over the trials whose queried record lies in the last `window` tokens (null: none did). */
  inside: number | null;
  /** Over the others (null: none did, as at L <= window). */
  outside: number | null;
  trials: number;
  inside_trials: number;
  outside_trials: number;
}

export interface RetrievalOptions {
  lengths: readonly number[];
  trials: number;
  seed?: number;
  format: RecordFormat;
  /** A fixed mode, or one chosen per length (a scaling factor of L / C_train). */
  positions?: PositionMode | ((length: number) => PositionMode);
  /** Attention window (the crop baseline); absent: full causal attention. */
  window?: number;
  /** c of the logit scale beta = 1 + c ln(max(1, L / C_train)). */
  betaC?: number;
  /** C_train: the logit scale's reference, and where inside ends; default max_position_embeddings. */
  trainContext?: number;
  /** Tokens per forward pass; prompts are batched up to this. */
  batchTokens?: number;
  onProgress?: (done: number, total: number, length: number) => void;
  cancelled?: () => boolean;
}

/** Index of the largest value in row `row` of a [rows, V] array (the first on ties). */
function argmaxRow(logits: Float32Array, row: number, V: number): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[row * V + v] > logits[row * V + best]) best = v;
  return best;
}

const rate = (hits: number, count: number) => (count === 0 ? null : hits / count);

/** Success of the records test at each length over `trials` seeded prompts (see the header). */
export async function retrievalByLength(
  model: LlamaModel,
  textIds: ArrayLike<number>,
  options: RetrievalOptions,
): Promise<Map<number, RetrievalPoint>> {
  const { lengths, trials, seed = 0, format, betaC = 0, batchTokens = 8192 } = options;
  const trainContext = options.trainContext ?? model.config.maxPositionEmbeddings;
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`trials ${trials} must be a positive integer`);
  assertNoRecordBytes(textIds, 'the test text');
  for (const L of lengths) buildRecordsPrompt(textIds, L, format, new Rng(0)); // fails early on a short length
  const V = model.config.vocabSize;
  const total = lengths.length * trials;
  let done = 0;
  const result = new Map<number, RetrievalPoint>();
  for (const L of lengths) {
    const positions = typeof options.positions === 'function' ? options.positions(L) : options.positions;
    const beta = logitScale(betaC, L, trainContext);
    const perBatch = Math.max(1, Math.floor(batchTokens / L));
    const counts = { hits: 0, insideHits: 0, inside: 0, outsideHits: 0, outside: 0 };
    for (let first = 0; first < trials; first += perBatch) {
      if (options.cancelled?.()) throw new Error('cancelled');
      const prompts = Array.from({ length: Math.min(perBatch, trials - first) }, (_, i) =>
        buildRecordsPrompt(textIds, L, format, new Rng(trialSeed(seed, L, first + i))),
      );
      const logits = await model.lastLogits(
        prompts.flatMap((p) => p.ids),
        prompts.length,
        L,
        { positions, beta, window: options.window },
      );
      prompts.forEach((prompt, b) => {
        const correct = argmaxRow(logits, b, V) === prompt.answer ? 1 : 0;
        const inside = prompt.recordStart >= L - trainContext;
        counts.hits += correct;
        if (inside) {
          counts.inside++;
          counts.insideHits += correct;
        } else {
          counts.outside++;
          counts.outsideHits += correct;
        }
      });
      done += prompts.length;
      options.onProgress?.(done, total, L);
    }
    result.set(L, {
      all: counts.hits / trials,
      inside: rate(counts.insideHits, counts.inside),
      outside: rate(counts.outsideHits, counts.outside),
      trials,
      inside_trials: counts.inside,
      outside_trials: counts.outside,
    });
  }
  return result;
}
