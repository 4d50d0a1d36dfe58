// Perplexity-against-length curves: which series an evaluation runs, the position mode each one
// uses at each evaluated length, and the versioned JSON file that records the result (written by
// `npm run cli -- eval`, read by the web app through parseEvalJson). Pure logic: no Node imports,
// so the browser bundle can use it.
//
// Glossary: L an evaluated sequence length, C = C_train the context the model was trained at,
// M the config's max_position_embeddings, s = max(1, L / C) the scaling factor at length L,
// c DroPE's logit-scale coefficient, beta = 1 + c·ln(max(1, L / C)) (src/eval/perplexity.ts).
//
// The series, one per position mode, each configured for the length it is evaluated at:
//   rope      plain RoPE at every length (extrapolation past C, the baseline).
//   pi        pi:s      position interpolation by s.
//   ntk       ntk:s     static NTK-aware scaling by s.
//   yarn      yarn:s    YaRN by s; when C ≠ M its original context is C
//                       (original_max_position_embeddings=C), so the correction range is C's.
//   dynamic   dynamic:s HF's dynamic NTK with its factor set to s, as a user who sets the config's
//                       factor to the target extension gets. Note: HF's dynamic rescales by the
//                       length itself as well, so for L > M it uses θ·(s·L/M − (s−1))^(D/(D−2)), a
//                       stronger scaling than ntk:s; for L ≤ M it is RoPE.
//   crop      RoPE with an attention window of C keys: every query sees at most the last C
//             tokens, in every layer ("RoPE, cropped to the last C tokens", the paper's point that
//             perplexity is local: YaRN behaves much like this). Mode "rope", window C.
//   none      RoPE dropped (NoPE inference; a DroPE model's own mode), with logits × beta at L.
// At L ≤ C (s = 1) every scaled series IS rope: its mode is written as "rope", so those points
// of pi/ntk/yarn/dynamic (and crop's, whose window then covers every key) equal the rope series'.
//
// The file (EvalFile below), format "drope-playground/eval", version 2:
//   {
//     "format": "drope-playground/eval",
//     "version": 1,
//     "model": "austen-rope",            // the model directory's name
//     "text": "persuasion.txt",           // the evaluated text file's name
//     "tokens": 16384,                    // tokens of the text evaluated (after --tokens)
//     "train_ctx": 64,                    // C
//     "lengths": [32, 64, 128, 256],      // L, strictly increasing integers ≥ 2, each ≤ tokens
//     "series": [
//       { "id": "rope", "label": "RoPE", "positions": "rope", "beta_c": 0,
//         "modes": { "32": "rope", "64": "rope", "128": "rope", "256": "rope" },
//         "ppl":   { "32": 5.1, "64": 4.2, "128": 9.8, "256": 40.3 } },
//       { "id": "yarn", "label": "YaRN", "positions": "yarn:L/C", "beta_c": 0,
//         "modes": { "32": "rope", "64": "rope", "128": "yarn:2", "256": "yarn:4" }, "ppl": { ... },
//         "retrieval": { "64": { "all": 0.99, "inside": 0.99, "outside": null, "trials": 200,
//                                "inside_trials": 200, "outside_trials": 0 }, "128": { ... } } },
//       { "id": "crop", "label": "RoPE, cropped to the last 64 tokens", "positions": "rope", "window": 64, ... },
//       ...
//     ],
//     "retrieval": { "task": "records", "format": "lookup", "records": 4, "text": "persuasion.txt",
//                    "trials": 200, "seed": 0, "lengths": [64, 128, 256, 512] }
//   }
// `positions` describes the series symbolically; `modes` gives the exact mode (the text form
// `--pos` takes, so `ppl --pos MODE [--window W] --lengths L` reproduces a point) for every length;
// `window`, where present, the attention window; `ppl` has one finite perplexity for every
// length. Series ids are unique. `retrieval` (optional) says how the records test ran
// (src/eval/records.ts); then every series has a `retrieval` entry per retrieval length (a subset
// of `lengths`): success over all trials, and inside / outside the last C tokens (null where no
// trial fell there). Keys not listed here are ignored by the reader; a change that a reader of
// this version would misread must bump the version. Version 1 files (no window, no retrieval)
// read as version 2.

import { formatPositionMode, parsePositionMode, type PositionMode } from '../model/positions.ts';
import { RECORD_FORMATS, type RecordFormat, type RetrievalPoint } from './records.ts';

export const EVAL_FORMAT = 'drope-playground/eval';
export const EVAL_VERSION = 2;

/** The series an evaluation can run, in the order they are written. */
export const SERIES_KINDS = ['rope', 'pi', 'ntk', 'yarn', 'dynamic', 'crop', 'none'] as const;
export type SeriesKind = (typeof SERIES_KINDS)[number];

/** The legend names of the series whose name needs no context (crop's needs C, none's the model). */
export const SERIES_LABELS: Record<Exclude<SeriesKind, 'none' | 'crop'>, string> = {
  rope: 'RoPE',
  pi: 'PI',
  ntk: 'NTK',
  yarn: 'YaRN',
  dynamic: 'Dynamic NTK',
};

/** The crop series' label at training context C (the page says "C_train" before it knows C). */
export const cropLabel = (trainContext: number | 'C_train') => `RoPE, cropped to the last ${trainContext} tokens`;

export interface EvalSeries {
  id: string;
  label: string;
  /** Symbolic: "rope", "pi:L/C", ..., "none". */
  positions: string;
  beta_c: number;
  /** Length → the exact position mode's text form. */
  modes: Record<string, string>;
  /** Length → perplexity. */
  ppl: Record<string, number>;
  /** The attention window (the crop series: C). */
  window?: number;
  /** Retrieval length → the records test's result (where the file has `retrieval`). */
  retrieval?: Record<string, RetrievalPoint>;
}

/** How the records test of an eval file ran (src/eval/records.ts). */
export interface RetrievalProtocol {
  task: 'records';
  format: RecordFormat;
  /** Records per prompt. */
  records: number;
  text: string;
  trials: number;
  seed: number;
  lengths: number[];
}

export interface EvalFile {
  format: typeof EVAL_FORMAT;
  version: typeof EVAL_VERSION;
  model: string;
  text: string;
  tokens: number;
  train_ctx: number;
  lengths: number[];
  series: EvalSeries[];
  retrieval?: RetrievalProtocol;
}

/** s = max(1, L / C_train): the factor a scaled mode uses at length L. */
export function scalingFactor(length: number, trainContext: number): number {
  return Math.max(1, length / trainContext);
}

export interface SeriesContext {
  /** C_train. */
  trainContext: number;
  /** The config's max_position_embeddings (M): YaRN's original context unless it equals C. */
  maxPositionEmbeddings: number;
}

/**
 * The position mode series `kind` uses at length L (see the table at the top of this file). With
 * `fixedFactor` F, a scaled kind uses kind:F at every length instead of s, within C as well: a
 * static rope_scaling factor, as transformers applies one (the web page's "Scaling factor" select).
 */
export function seriesMode(kind: SeriesKind, length: number, context: SeriesContext, fixedFactor?: number): PositionMode {
  if (kind === 'none') return { kind: 'none' };
  const s = fixedFactor ?? scalingFactor(length, context.trainContext);
  if (kind === 'rope' || kind === 'crop' || s === 1) return { kind: 'rope' };
  if (kind === 'yarn' && context.trainContext !== context.maxPositionEmbeddings) {
    return { kind, factor: s, originalMaxPositionEmbeddings: context.trainContext };
  }
  return { kind, factor: s };
}

/** Parses `--modes rope,pi,...`: known kinds, each once, at least one; written in SERIES_KINDS order. */
export function parseSeriesKinds(text: string): SeriesKind[] {
  const names = text.split(',').map((s) => s.trim().toLowerCase());
  const kinds = new Set<SeriesKind>();
  for (const name of names) {
    if (!(SERIES_KINDS as readonly string[]).includes(name)) {
      throw new Error(`unknown series "${name}" in "${text}": expected a comma-separated list of ${SERIES_KINDS.join(', ')}`);
    }
    if (kinds.has(name as SeriesKind)) throw new Error(`series "${name}" is listed twice in "${text}"`);
    kinds.add(name as SeriesKind);
  }
  return SERIES_KINDS.filter((kind) => kinds.has(kind));
}

/** The attention window series `kind` uses: the crop series sees the last C tokens. */
export function seriesWindow(kind: SeriesKind, trainContext: number): number | undefined {
  return kind === 'crop' ? trainContext : undefined;
}

/**
 * The series run when `--modes` is not given: every RoPE-family mode (the crop baseline among
 * them), plus `none` when a logit scale is asked for (betaCGiven) or the model was trained
 * without positions (attention_type nope or qk_norm_nope: DroPE).
 */
export function defaultSeriesKinds(attentionType: string, betaCGiven: boolean): SeriesKind[] {
  const withNone = betaCGiven || attentionType !== 'rope';
  return SERIES_KINDS.filter((kind) => kind !== 'none' || withNone);
}

export interface SeriesPlan {
  id: SeriesKind;
  label: string;
  positions: string;
  beta_c: number;
  /** The mode at each length. */
  modes: Map<number, PositionMode>;
  window?: number;
}

/** What an evaluation runs: one plan per kind, its mode at every length. */
export function planSeries(
  kinds: readonly SeriesKind[],
  lengths: readonly number[],
  options: SeriesContext & { betaC: number; attentionType: string; noneLabel?: string },
): SeriesPlan[] {
  return kinds.map((kind) => {
    const betaC = kind === 'none' ? options.betaC : 0;
    // A model trained without positions cannot tell whether it is DroPE or NoPE from scratch (both
    // say attention_type nope): --none-label names it; a RoPE model's none series is RoPE dropped.
    const base =
      kind === 'none'
        ? (options.noneLabel ?? (options.attentionType === 'rope' ? 'RoPE dropped' : 'DroPE'))
        : kind === 'crop'
          ? cropLabel(options.trainContext)
          : SERIES_LABELS[kind];
    const window = seriesWindow(kind, options.trainContext);
    return {
      id: kind,
      label: betaC !== 0 ? `${base}, β c=${betaC}` : base,
      positions: kind === 'rope' || kind === 'none' ? kind : kind === 'crop' ? 'rope' : `${kind}:L/C`,
      beta_c: betaC,
      modes: new Map(lengths.map((L) => [L, seriesMode(kind, L, options)])),
      ...(window === undefined ? {} : { window }),
    };
  });
}

/** The file's series entry for a plan and its results (retrieval where the records test ran). */
export function seriesRecord(
  plan: SeriesPlan,
  ppl: ReadonlyMap<number, number>,
  retrieval?: ReadonlyMap<number, RetrievalPoint>,
): EvalSeries {
  return {
    id: plan.id,
    label: plan.label,
    positions: plan.positions,
    beta_c: plan.beta_c,
    modes: Object.fromEntries([...plan.modes].map(([L, mode]) => [String(L), formatPositionMode(mode)])),
    ppl: Object.fromEntries([...plan.modes.keys()].map((L) => [String(L), ppl.get(L)!])),
    ...(plan.window === undefined ? {} : { window: plan.window }),
    ...(retrieval ? { retrieval: Object.fromEntries([...retrieval].map(([L, point]) => [String(L), point])) } : {}),
  };
}

// ------------------------------------------------------------------------------------ reading

export class EvalFormatError extends Error {}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads and validates an eval file (its text, or the value JSON.parse gave). Throws an
 * EvalFormatError naming `source` and the offending field; returns a copy holding only the
 * fields of EvalFile.
 */
export function parseEvalJson(input: unknown, source = 'eval file'): EvalFile {
  const fail = (message: string): never => {
    throw new EvalFormatError(`${source}: ${message}`);
  };
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      fail(`not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isObject(value)) return fail('expected a JSON object');
  if (value.format !== EVAL_FORMAT)
    return fail(`not a perplexity-curve file: "format" is ${JSON.stringify(value.format)}, expected "${EVAL_FORMAT}"`);
  if (value.version !== EVAL_VERSION && value.version !== 1) {
    return fail(
      typeof value.version === 'number' && Number.isInteger(value.version) && value.version > EVAL_VERSION
        ? `version ${value.version} was written by a newer version of drope-playground; this one reads version ${EVAL_VERSION}`
        : `unsupported version ${JSON.stringify(value.version)} (expected 1 or ${EVAL_VERSION})`,
    );
  }

  const string = (v: unknown, field: string): string =>
    typeof v === 'string' && v !== '' ? v : fail(`${field} must be a non-empty string, got ${JSON.stringify(v)}`);
  const positiveInteger = (v: unknown, field: string): number =>
    typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : fail(`${field} must be a positive integer, got ${JSON.stringify(v)}`);
  const positiveNumber = (v: unknown, field: string): number =>
    typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fail(`${field} must be a finite number > 0, got ${JSON.stringify(v)}`);

  const model = string(value.model, 'model');
  const text = string(value.text, 'text');
  const tokens = value.tokens;
  if (typeof tokens !== 'number' || !Number.isInteger(tokens) || tokens < 2)
    fail(`tokens must be an integer ≥ 2, got ${JSON.stringify(tokens)}`);
  const trainCtx = positiveNumber(value.train_ctx, 'train_ctx');

  if (!Array.isArray(value.lengths) || value.lengths.length === 0) fail('lengths must be a non-empty array');
  const lengths = (value.lengths as unknown[]).map((L, i) => {
    if (typeof L !== 'number' || !Number.isInteger(L) || L < 2)
      return fail(`lengths[${i}] must be an integer ≥ 2, got ${JSON.stringify(L)}`);
    if (L > (tokens as number)) return fail(`lengths[${i}] = ${L} is longer than the ${tokens} tokens evaluated`);
    return L;
  });
  lengths.forEach((L, i) => {
    if (i > 0 && L <= lengths[i - 1]) fail(`lengths must be strictly increasing, got ${lengths[i - 1]} then ${L}`);
  });
  const keys = lengths.map(String);

  /** An object with exactly one entry per length. */
  const perLength = <T>(v: unknown, field: string, read: (entry: unknown, where: string) => T): Record<string, T> => {
    if (!isObject(v)) return fail(`${field} must be an object with one entry per length`);
    const extra = Object.keys(v).filter((key) => !keys.includes(key));
    if (extra.length > 0) fail(`${field} has ${JSON.stringify(extra[0])}, which is not one of the lengths`);
    return Object.fromEntries(
      keys.map((key) => {
        const where = `${field}["${key}"]`;
        if (!(key in v)) fail(`${where} is missing`);
        return [key, read(v[key], where)];
      }),
    );
  };

  const retrievalProtocol = value.retrieval === undefined ? undefined : readRetrievalProtocol(value.retrieval, lengths, fail);
  const retrievalKeys = retrievalProtocol?.lengths.map(String) ?? [];

  if (!Array.isArray(value.series) || value.series.length === 0) fail('series must be a non-empty array');
  const ids = new Set<string>();
  const series = (value.series as unknown[]).map((entry, i): EvalSeries => {
    const at = `series[${i}]`;
    if (!isObject(entry)) return fail(`${at} must be an object`);
    const id = string(entry.id, `${at}.id`);
    if (ids.has(id)) fail(`${at}.id "${id}" is used by an earlier series`);
    ids.add(id);
    const betaC = entry.beta_c;
    if (typeof betaC !== 'number' || !Number.isFinite(betaC)) fail(`${at}.beta_c must be a finite number, got ${JSON.stringify(betaC)}`);
    return {
      id,
      label: string(entry.label, `${at}.label`),
      positions: string(entry.positions, `${at}.positions`),
      beta_c: betaC as number,
      modes: perLength(entry.modes, `${at}.modes`, (mode, where) => {
        if (typeof mode !== 'string') return fail(`${where} must be a position mode string, got ${JSON.stringify(mode)}`);
        try {
          parsePositionMode(mode);
        } catch (e) {
          fail(`${where}: ${(e as Error).message}`);
        }
        return mode;
      }),
      ppl: perLength(entry.ppl, `${at}.ppl`, positiveNumber),
      ...(entry.window === undefined ? {} : { window: positiveInteger(entry.window, `${at}.window`) }),
      ...(retrievalProtocol ? { retrieval: readRetrieval(entry.retrieval, `${at}.retrieval`) } : {}),
    };
  });

  /** One success rate per retrieval length. */
  function readRetrieval(v: unknown, field: string): Record<string, RetrievalPoint> {
    if (!isObject(v)) return fail(`${field} must be an object with one entry per retrieval length`);
    return Object.fromEntries(
      retrievalKeys.map((key) => {
        const where = `${field}["${key}"]`;
        const point = v[key];
        if (!isObject(point)) return fail(`${where} is missing`);
        const count = (x: unknown, name: string) =>
          typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : fail(`${where}.${name} must be a count, got ${JSON.stringify(x)}`);
        const share = (x: unknown, name: string, allowNull: boolean): number | null =>
          (x === null && allowNull) || (typeof x === 'number' && x >= 0 && x <= 1)
            ? (x as number | null)
            : fail(`${where}.${name} must be a success rate in 0..1${allowNull ? ' or null' : ''}, got ${JSON.stringify(x)}`);
        const trials = count(point.trials, 'trials');
        const insideTrials = count(point.inside_trials, 'inside_trials');
        const outsideTrials = count(point.outside_trials, 'outside_trials');
        if (trials < 1 || insideTrials + outsideTrials !== trials) fail(`${where}: inside_trials + outside_trials must equal trials ≥ 1`);
        const inside = share(point.inside, 'inside', true);
        const outside = share(point.outside, 'outside', true);
        if ((inside === null) !== (insideTrials === 0) || (outside === null) !== (outsideTrials === 0)) {
          fail(`${where}: inside / outside must be null exactly when no trial fell there`);
        }
        const all = share(point.all, 'all', false) as number;
        return [key, { all, inside, outside, trials, inside_trials: insideTrials, outside_trials: outsideTrials }];
      }),
    );
  }

  return {
    format: EVAL_FORMAT,
    version: EVAL_VERSION,
    model,
    text,
    tokens: tokens as number,
    train_ctx: trainCtx,
    lengths,
    series,
    ...(retrievalProtocol ? { retrieval: retrievalProtocol } : {}),
  };
}

/** The file's `retrieval` protocol; its lengths must be among the file's lengths. */
function readRetrievalProtocol(v: unknown, lengths: readonly number[], fail: (message: string) => never): RetrievalProtocol {
  if (!isObject(v)) return fail('retrieval must be an object');
  if (v.task !== 'records') fail(`retrieval.task must be "records", got ${JSON.stringify(v.task)}`);
  if (!(RECORD_FORMATS as readonly unknown[]).includes(v.format))
    fail(`retrieval.format must be one of ${RECORD_FORMATS.join(', ')}, got ${JSON.stringify(v.format)}`);
  const integer = (x: unknown, name: string, min: number) =>
    typeof x === 'number' && Number.isInteger(x) && x >= min
      ? x
      : fail(`retrieval.${name} must be an integer ≥ ${min}, got ${JSON.stringify(x)}`);
  if (typeof v.text !== 'string' || v.text === '') fail('retrieval.text must be a non-empty string');
  if (!Array.isArray(v.lengths) || v.lengths.length === 0) fail('retrieval.lengths must be a non-empty array');
  const retrievalLengths = (v.lengths as unknown[]).map((L, i) =>
    typeof L === 'number' && lengths.includes(L)
      ? L
      : fail(`retrieval.lengths[${i}] = ${JSON.stringify(L)} is not one of the file's lengths`),
  );
  return {
    task: 'records',
    format: v.format as RecordFormat,
    records: integer(v.records, 'records', 1),
    text: v.text as string,
    trials: integer(v.trials, 'trials', 1),
    seed: integer(v.seed, 'seed', 0),
    lengths: retrievalLengths,
  };
}
