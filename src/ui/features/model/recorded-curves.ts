// Recorded curves: the perplexity-by-length numbers a model folder ships in eval.json (written by
// `npm run cli -- eval`, format and reader in src/eval/curves.ts), so the chart has something to
// show at once, and without WebGPU; and, where the file has them, the records test's results per
// series (src/eval/records.ts), for the retrieval chart (src/ui/features/retrieval).
//
// A recorded series whose mode at every length is exactly what the page would run for some
// setting (RoPE, PI, NTK, YaRN, RoPE cropped to C_train or none, with its c) is tied to that setting: a live evaluation of
// the same setting then refines it point by point. Any other series (dynamic NTK, a different
// YaRN original context) stays a recorded series of its own. Recorded series are per length
// (factor L / C, plain RoPE up to C), so only the page's per-length modes can match one: a fixed
// "Scaling factor" (mode "yarn:8", …) is always a live series of its own.

import { parseEvalJson, type EvalSeries, type RetrievalProtocol, type SeriesContext } from '../../../eval/curves.ts';
import type { RetrievalPoint } from '../../../eval/records.ts';
import { parseConfig, usesRope, type ModelConfig } from '../../../model/config.ts';
import { formatPositionMode } from '../../../model/positions.ts';
import { positionModeAt, ropeModeName, type PositionKind, type PositionSetting } from '../../settings.ts';

export interface RecordedPoint {
  length: number;
  ppl: number;
}

/** The records test's result at one length. */
export interface RecordedRetrieval extends RetrievalPoint {
  length: number;
}

export interface RecordedCurve {
  label: string;
  /** The setting it was measured with, when the page can reproduce it exactly. */
  settings?: { position: PositionSetting; c: number };
  points: RecordedPoint[];
  /** eval.json's series id ("rope", "yarn", "crop", "none", …). */
  series: string;
  /** The records test per retrieval length; absent when the file has no retrieval results. */
  retrieval?: RecordedRetrieval[];
}

export type RecordedEval =
  { curves: RecordedCurve[]; problem: null; retrieval: RetrievalProtocol | null } | { curves: []; problem: string; retrieval: null };

const LIVE_KINDS: readonly PositionKind[] = ['rope', 'none', 'pi', 'ntk', 'yarn', 'crop'];

/** The live setting that reproduces a series exactly, or undefined. */
function settingsOf(series: EvalSeries, lengths: number[], context: SeriesContext): RecordedCurve['settings'] {
  // Per-length kinds only: a mode with a fixed factor ("yarn:8") is never a recorded series' twin.
  // A window makes RoPE the crop setting, which the page runs with a window of C_train alone.
  const positions = series.positions.split(':')[0];
  const kind = (
    series.window === undefined ? positions : positions === 'rope' && series.window === context.trainContext ? 'crop' : ''
  ) as PositionKind;
  if (!LIVE_KINDS.includes(kind)) return undefined;
  // The page's c slider has two decimals and applies to every mode; outside it, no live twin.
  if (!(series.beta_c >= 0 && series.beta_c <= 1) || Number(series.beta_c.toFixed(2)) !== series.beta_c) return undefined;
  const same = lengths.every((L) => series.modes[String(L)] === formatPositionMode(positionModeAt({ kind }, L, context)));
  return same ? { position: { kind }, c: series.beta_c } : undefined;
}

/**
 * eval.json (parsed JSON, or undefined when the folder has none) → curves. A file that does not
 * read as the format gives no curves and a one-line problem to show.
 */
export function readRecordedEval(json: unknown, context: SeriesContext, source = 'eval.json'): RecordedEval {
  if (json === undefined) return { curves: [], problem: null, retrieval: null };
  let file;
  try {
    file = parseEvalJson(json, source);
  } catch (error) {
    return { curves: [], problem: (error as Error).message, retrieval: null };
  }
  const retrievalLengths = file.retrieval?.lengths ?? [];
  const curves = file.series.map((series): RecordedCurve => {
    const retrieval = series.retrieval;
    return {
      label: series.label,
      settings: settingsOf(series, file.lengths, context),
      points: file.lengths.map((length) => ({ length, ppl: series.ppl[String(length)] })),
      series: series.id,
      ...(retrieval ? { retrieval: retrievalLengths.map((length) => ({ length, ...retrieval[String(length)] })) } : {}),
    };
  });
  return { curves, problem: null, retrieval: file.retrieval ?? null };
}

// ------------------------------------------------------------------------------ shipped models

// Every model /models/index.json lists ships an eval.json: the page reads all of them at start
// (config.json and eval.json only, never the weights) so the chart tells the DroPE story at first
// paint, whichever model is loaded: RoPE and its scalings extrapolating, RoPE dropped without
// recalibration, DroPE recalibrated, NoPE trained from scratch. The loaded model's own curves are
// the ones live evaluation refines (startModel); the other models' stay recorded, named here.

/** What a shipped model is, for the story its curves tell. */
export type ShippedKind = 'rope' | 'drope' | 'nope';

/** One recorded curve of a shipped model, under the legend name the chart shows. */
export interface ShippedCurve {
  /** The legend name, ending in " · " and the model's folder name. */
  label: string;
  /** eval.json's series id ("rope", "yarn", "crop", "none", …): what the retrieval explanations compare. */
  series: string;
  points: RecordedPoint[];
  retrieval?: RecordedRetrieval[];
}

/**
 * The sizes that decide whether two models' weights are interchangeable (same tensors, same token
 * ids): side by side offers another shipped model as a variant of the loaded one when they match.
 */
export type ModelShapes = Pick<
  ModelConfig,
  'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim'
>;

export function modelShapes(config: ModelConfig): ModelShapes {
  const { vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim } = config;
  return { vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim };
}

export interface ShippedModel {
  /** The folder name under /models/ (index.json's `name`). */
  name: string;
  /** index.json's label, e.g. "austen-drope (DroPE)". */
  label: string;
  kind: ShippedKind;
  /** From its config.json: what side by side matches against the loaded model's. */
  shapes: ModelShapes;
  /** C_train: config.json's max_position_embeddings, as the loaded model's is read. */
  trainContext: number;
  curves: ShippedCurve[];
  /** How its eval.json's records test ran; null when the file has no retrieval results. */
  retrieval: RetrievalProtocol | null;
}

export type ShippedRead = { model: ShippedModel; problem: null } | { model: null; problem: string };

/** Why one listed model's recorded curves are not shown (one line, naming the file). */
export interface ShippedProblem {
  name: string;
  message: string;
}

/** The story's names, one per kind of curve (c > 0 appends " · c = …" as live labels do). */
export const STORY_LABELS = {
  dropped: 'RoPE dropped (no recalibration)',
  drope: 'DroPE (recalibrated)',
  nope: 'NoPE (from scratch)',
} as const;

/**
 * A model trained without positions is either DroPE (RoPE dropped from a RoPE model, then
 * recalibrated) or NoPE from scratch; config.json cannot tell them apart (the trainer writes
 * attention_type "nope" for both), so the folder name decides, then index.json's label, then the
 * eval CLI's series label (it writes "DroPE" for any model without RoPE unless relabelled).
 */
export function nopeKind(name: string, indexLabel: string, curveLabels: readonly string[]): 'drope' | 'nope' {
  for (const text of [name, indexLabel]) {
    if (/drope/i.test(text)) return 'drope';
    if (/nope/i.test(text)) return 'nope';
  }
  return curveLabels.some((label) => /^nope\b/i.test(label)) ? 'nope' : 'drope';
}

/** The legend name of one recorded curve of a shipped model that is not the loaded one. */
export function shippedLabel(
  kind: ShippedKind,
  curve: Pick<RecordedCurve, 'label' | 'settings'>,
  model: string,
  trainContext: number,
): string {
  const settings = curve.settings;
  let name = curve.label;
  if (settings) {
    const suffix = settings.c > 0 ? ` · c = ${settings.c.toFixed(2)}` : '';
    if (settings.position.kind === 'none') name = (kind === 'rope' ? STORY_LABELS.dropped : STORY_LABELS[kind]) + suffix;
    else if (kind === 'rope') name = (ropeModeName(settings.position, trainContext) ?? name) + suffix;
  }
  return `${name} · ${model}`;
}

/**
 * One listed model's config.json and eval.json (their texts, undefined when missing) → its
 * recorded curves under story names, or the one-line problem that skips it. A model without
 * eval.json, or whose config or eval does not read, is skipped: the others still show.
 */
export function readShippedModel(
  entry: { name: string; label: string },
  configText: string | undefined,
  evalText: string | undefined,
): ShippedRead {
  const { name } = entry;
  if (configText === undefined) return { model: null, problem: `${name}/config.json is missing` };
  if (evalText === undefined) return { model: null, problem: `${name}/eval.json is missing` };
  let trainContext: number;
  let hasRope: boolean;
  let shapes: ModelShapes;
  try {
    const config = parseConfig(JSON.parse(configText));
    trainContext = config.maxPositionEmbeddings;
    hasRope = usesRope(config);
    shapes = modelShapes(config);
  } catch (error) {
    return { model: null, problem: `${name}/config.json: ${(error as Error).message}` };
  }
  const read = readRecordedEval(evalText, { trainContext, maxPositionEmbeddings: trainContext }, `${name}/eval.json`);
  if (read.problem !== null) return { model: null, problem: read.problem };
  if (read.curves.length === 0) return { model: null, problem: `${name}/eval.json has no series` };
  const kind: ShippedKind = hasRope
    ? 'rope'
    : nopeKind(
        name,
        entry.label,
        read.curves.map((c) => c.label),
      );
  const curves: ShippedCurve[] = [];
  for (const curve of read.curves) {
    const label = shippedLabel(kind, curve, name, trainContext);
    // Two curves under one name: the first wins, as for the loaded model's.
    if (!curves.some((c) => c.label === label)) {
      curves.push({ label, series: curve.series, points: curve.points, ...(curve.retrieval ? { retrieval: curve.retrieval } : {}) });
    }
  }
  return { model: { name, label: entry.label, kind, shapes, trainContext, curves, retrieval: read.retrieval }, problem: null };
}

/**
 * Reads every listed model's config.json and eval.json through `fetchText` (a file's text, or
 * undefined when it is missing; it may reject, which counts as missing), all at once. Returns the
 * models that read, in the index's order, and one problem per model skipped.
 */
export async function readShippedModels(
  entries: readonly { name: string; label: string }[],
  fetchText: (path: string) => Promise<string | undefined>,
): Promise<{ models: ShippedModel[]; problems: ShippedProblem[] }> {
  const safe = (path: string) => fetchText(path).catch(() => undefined);
  const reads = await Promise.all(
    entries.map(async (entry) => {
      const [config, evalText] = await Promise.all([safe(`${entry.name}/config.json`), safe(`${entry.name}/eval.json`)]);
      return readShippedModel(entry, config, evalText);
    }),
  );
  return {
    models: reads.flatMap((r) => (r.model ? [r.model] : [])),
    problems: reads.flatMap((r, i) => (r.problem !== null ? [{ name: entries[i].name, message: r.problem }] : [])),
  };
}
