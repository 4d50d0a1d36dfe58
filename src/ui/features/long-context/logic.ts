// "Long context" (src/ui/features/long-context/LongContextPanel.tsx): the pure parts, shared by the page and
// the engine worker. Which lengths are offered, when a text or a needle prompt is too short, and
// the rows the two charts and the needle table draw.
//
// Glossary: C = C_train, the training context (config.json's max_position_embeddings); L an
// evaluated length in tokens; a needle prompt is four "special magic number" sentences and a
// question in filler text (src/eval/needle.ts), about 75 tokens under a BPE tokenizer and about 310
// under a byte-level one.

import { buildNeedlePrompt, type NeedleTokenizer } from '../../../eval/needle.ts';
import { lengthLadder } from '../../settings.ts';

/** Perplexity lengths: C/2, C, 2C, 4C, 8C (powers of two times C: 16384 for SmolLM's 2048). */
export function perplexityLengths(trainContext: number): number[] {
  return lengthLadder(trainContext, 8, { half: true });
}

/** Needle lengths: 1x, 2x, 4x and 8x C, as in the paper's multi-key test. */
export function needleLengths(trainContext: number): number[] {
  return lengthLadder(trainContext, 8);
}

/** The chosen lengths a text of `tokens` tokens cannot fill one window of. */
export function lengthsTooLong(tokens: number, lengths: readonly number[]): number[] {
  return lengths.filter((L) => L > tokens);
}

function joinLengths(lengths: readonly number[]): string {
  const words = lengths.map(String);
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** Why a text cannot be measured at the chosen lengths, or null when it can. */
export function textTooShortMessage(tokens: number, lengths: readonly number[]): string | null {
  if (lengths.length === 0) return 'Choose at least one length.';
  const long = lengthsTooLong(tokens, lengths);
  if (long.length === 0) return null;
  return (
    `The text is too short: it has ${tokens.toLocaleString('en-US')} tokens, and measuring at ${joinLengths(long)} tokens needs at least ` +
    `${Math.max(...long).toLocaleString('en-US')}. Paste a longer text or untick the longer lengths.`
  );
}

/**
 * True when every trial's prompt (seeds seed … seed + trials - 1, each with its own keys and
 * numbers, so its own size) fits in `length` tokens with room for its needles and question.
 */
export function needleFits(tokenizer: NeedleTokenizer, filler: readonly number[], length: number, seed: number, trials: number): boolean {
  for (let t = 0; t < trials; t++) {
    try {
      buildNeedlePrompt(tokenizer, filler, length, seed + t);
    } catch {
      return false;
    }
  }
  return true;
}

/** Which text a perplexity was measured on: results on another text are not comparable. */
export function textKey(source: 'bundled' | 'pasted', text: string): string {
  if (source === 'bundled') return 'bundled';
  // FNV-1a over the UTF-16 code units: a cheap fingerprint, not a security measure.
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `pasted:${text.length}:${hash.toString(16)}`;
}

// ------------------------------------------------------------------------------------ results

export interface PerplexityPoint {
  length: number;
  ppl: number;
}

export interface NeedlePoint {
  length: number;
  successes: number;
  trials: number;
  /** The prompt cannot hold four needles and a question at this length: not a 0%. */
  tooShort?: boolean;
}

/** One variant under one setting (the main chart's series id, e.g. "base|rope|0.00"). */
export interface ResultSeries<P> {
  id: string;
  label: string;
  /** Index into the chart styles (src/ui/components/chart-style.ts). */
  style: number;
  points: P[];
}

/** A point into a series (replacing one at the same length), the series created when new. */
export function upsertSeries<P extends { length: number }>(
  list: ResultSeries<P>[],
  id: string,
  label: string,
  point: P,
): ResultSeries<P>[] {
  const existing = list.find((s) => s.id === id);
  if (!existing) {
    const style = list.reduce((max, s) => Math.max(max, s.style + 1), 0);
    return [...list, { id, label, style, points: [point] }];
  }
  const points = [...existing.points.filter((p) => p.length !== point.length), point].sort((a, b) => a.length - b.length);
  return list.map((s) => (s.id === id ? { ...s, label, points } : s));
}

/** Success rate in percent, or null where the length was too short. */
export function successRate(point: NeedlePoint): number | null {
  return point.tooShort ? null : (100 * point.successes) / point.trials;
}

/** "50%", or "too short". */
export function formatNeedlePoint(point: NeedlePoint): string {
  const rate = successRate(point);
  return rate === null ? 'too short' : `${Math.round(rate)}%`;
}

export type ChartRow = Record<string, number | string | null>;

/**
 * Needle chart rows: one per length ("512 (8×)" as its category), `s{i}` the success rate of
 * series i in percent (null where too short: no bar, the chart writes "too short" there instead)
 * and `s{i}_label` what its bar says ("25%", "too short"); lengths not measured for a series have
 * neither.
 */
export function needleRows(series: ResultSeries<NeedlePoint>[], trainContext: number): ChartRow[] {
  const lengths = [...new Set(series.flatMap((s) => s.points.map((p) => p.length)))].sort((a, b) => a - b);
  return lengths.map((length) => {
    const multiple = length / trainContext;
    const row: ChartRow = { length, category: `${length} (${Number(multiple.toFixed(2))}×)` };
    series.forEach((s, i) => {
      const p = s.points.find((point) => point.length === length);
      if (!p) return;
      row[`s${i}`] = successRate(p);
      row[`s${i}_label`] = formatNeedlePoint(p);
    });
    return row;
  });
}

/** The lengths any series found too short. */
export function tooShortLengths(series: ResultSeries<NeedlePoint>[]): number[] {
  return [...new Set(series.flatMap((s) => s.points.filter((p) => p.tooShort).map((p) => p.length)))].sort((a, b) => a - b);
}

// ------------------------------------------------------------------------------------ models compared

/**
 * One model's results, kept under its name for the session, with what makes them comparable to
 * another model's: its training context C (needle lengths are multiples of it) and its vocabulary
 * size (per-token perplexities under different tokenizers do not compare).
 */
export interface ModelResults {
  /** C of the model when measured; null: never measured (the empty results). */
  trainContext: number | null;
  /** Its vocab_size when measured; null: never measured. */
  vocabSize: number | null;
  /** The text the perplexities were measured on (textKey), and its name. */
  textKey: string | null;
  textLabel: string;
  perplexity: ResultSeries<PerplexityPoint>[];
  needle: ResultSeries<NeedlePoint>[];
}

/** What the current model's results are compared on: its C, its vocabulary, the text of its perplexities. */
export type Reference = Pick<ModelResults, 'trainContext' | 'vocabSize' | 'textKey'>;

/** Needle results compare when C is the same: the lengths are then the same multiples of it. */
export function needleComparable(a: Reference, b: Reference): boolean {
  return a.trainContext !== null && a.trainContext === b.trainContext;
}

/** Perplexities compare when C, the vocabulary and the text are the same. */
export function perplexityComparable(a: Reference, b: Reference): boolean {
  return needleComparable(a, b) && a.vocabSize !== null && a.vocabSize === b.vocabSize && a.textKey !== null && a.textKey === b.textKey;
}

/** Another model's series as it is named on a chart shared with the current model's. */
export function otherModelLabel(model: string, label: string): string {
  return `${model}: ${label}`;
}

/**
 * One chart's series: the current model's unchanged, then each other model's (in the order given)
 * named "<model>: <label>", with ids prefixed by the model so they stay apart, and styles that no
 * series of the chart shares: the current model's keep theirs, the others take the smallest free
 * ones in turn.
 */
export function combineSeries<P>(current: ResultSeries<P>[], others: { model: string; series: ResultSeries<P>[] }[]): ResultSeries<P>[] {
  const used = new Set(current.map((s) => s.style));
  let next = 0;
  const free = () => {
    while (used.has(next)) next++;
    used.add(next);
    return next;
  };
  const combined = [...current];
  for (const { model, series } of others) {
    for (const s of series) combined.push({ ...s, id: `${model}|${s.id}`, label: otherModelLabel(model, s.label), style: free() });
  }
  return combined;
}

export interface ComparedResults {
  perplexity: ResultSeries<PerplexityPoint>[];
  needle: ResultSeries<NeedlePoint>[];
  /** The text the perplexity chart's series were measured on ('' when it has none). */
  textLabel: string;
  /** The other models on each chart, in the order of `results`. */
  perplexityModels: string[];
  needleModels: string[];
}

/**
 * The two charts' series: the current model's results (`model`, compared on `reference`) and those
 * of every other model measured that compare with it (needleComparable, perplexityComparable).
 */
export function comparedResults(results: Record<string, ModelResults>, model: string, reference: Reference): ComparedResults {
  const own = results[model];
  const others = Object.entries(results).filter(([name]) => name !== model);
  const perplexityOthers = others.filter(([, r]) => r.perplexity.length > 0 && perplexityComparable(reference, r));
  const needleOthers = others.filter(([, r]) => r.needle.length > 0 && needleComparable(reference, r));
  const ownPerplexity = own?.perplexity ?? [];
  return {
    perplexity: combineSeries(
      ownPerplexity,
      perplexityOthers.map(([name, r]) => ({ model: name, series: r.perplexity })),
    ),
    needle: combineSeries(
      own?.needle ?? [],
      needleOthers.map(([name, r]) => ({ model: name, series: r.needle })),
    ),
    textLabel: ownPerplexity.length > 0 ? own!.textLabel : (perplexityOthers[0]?.[1].textLabel ?? ''),
    perplexityModels: perplexityOthers.map(([name]) => name),
    needleModels: needleOthers.map(([name]) => name),
  };
}

/**
 * The line under the charts naming the other models shown, null when there are none. Where both
 * charts are drawn and a model is on one only, each model says which.
 */
export function alsoShownLine(
  compared: Pick<ComparedResults, 'perplexity' | 'needle' | 'perplexityModels' | 'needleModels'>,
): string | null {
  const { perplexityModels: ppl, needleModels: needle } = compared;
  const models = [...new Set([...ppl, ...needle])];
  if (models.length === 0) return null;
  const bothCharts = compared.perplexity.length > 0 && compared.needle.length > 0;
  const everywhere = !bothCharts || models.every((m) => ppl.includes(m) && needle.includes(m));
  if (everywhere) return `Also shown: ${models.join(', ')} (measured earlier this session).`;
  const where = (m: string) =>
    ppl.includes(m) && needle.includes(m) ? 'perplexity and needle test' : ppl.includes(m) ? 'perplexity' : 'needle test';
  return `Also shown, measured earlier this session: ${models.map((m) => `${m} (${where(m)})`).join(', ')}.`;
}
