// Recorded curves: the perplexity-by-length numbers a model folder ships in eval.json (written by
// `npm run cli -- eval`, format and reader in src/eval/curves.ts), so the chart has something to
// show at once, and without WebGPU.
//
// A recorded series whose mode at every length is exactly what the page would run for some
// setting (RoPE, PI, NTK, YaRN or none, with its c) is tied to that setting: a live evaluation of
// the same setting then refines it point by point. Any other series (dynamic NTK, a different
// YaRN original context) stays a recorded series of its own.

import { parseEvalJson, seriesMode, type EvalSeries, type SeriesContext } from '../eval/curves.ts';
import { formatPositionMode } from '../model/positions.ts';
import type { EffectiveMode } from './settings.ts';

export interface RecordedPoint {
  length: number;
  ppl: number;
}

export interface RecordedCurve {
  label: string;
  /** The setting it was measured with, when the page can reproduce it exactly. */
  settings?: { mode: EffectiveMode; c: number };
  points: RecordedPoint[];
}

export type RecordedEval = { curves: RecordedCurve[]; problem: null } | { curves: []; problem: string };

const LIVE_KINDS: readonly EffectiveMode[] = ['rope', 'none', 'pi', 'ntk', 'yarn'];

/** The live setting that reproduces a series exactly, or undefined. */
function settingsOf(series: EvalSeries, lengths: number[], context: SeriesContext): RecordedCurve['settings'] {
  const kind = series.positions.split(':')[0] as EffectiveMode;
  if (!LIVE_KINDS.includes(kind)) return undefined;
  // The page's c slider has two decimals and applies to every mode; outside it, no live twin.
  if (!(series.beta_c >= 0 && series.beta_c <= 1) || Number(series.beta_c.toFixed(2)) !== series.beta_c) return undefined;
  const same = lengths.every((L) => series.modes[String(L)] === formatPositionMode(seriesMode(kind, L, context)));
  return same ? { mode: kind, c: series.beta_c } : undefined;
}

/**
 * eval.json (parsed JSON, or undefined when the folder has none) → curves. A file that does not
 * read as the format gives no curves and a one-line problem to show.
 */
export function readRecordedEval(json: unknown, context: SeriesContext, source = 'eval.json'): RecordedEval {
  if (json === undefined) return { curves: [], problem: null };
  let file;
  try {
    file = parseEvalJson(json, source);
  } catch (error) {
    return { curves: [], problem: (error as Error).message };
  }
  const curves = file.series.map((series) => ({
    label: series.label,
    settings: settingsOf(series, file.lengths, context),
    points: file.lengths.map((length) => ({ length, ppl: series.ppl[String(length)] })),
  }));
  return { curves, problem: null };
}
