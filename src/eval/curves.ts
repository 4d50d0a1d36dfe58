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
//   none      RoPE dropped (NoPE inference; a DroPE model's own mode), with logits × beta at L.
// At L ≤ C (s = 1) every scaled series IS rope: its mode is written as "rope", so those points
// of pi/ntk/yarn/dynamic equal the rope series' exactly.
//
// The file (EvalFile below), format "drope-playground/eval", version 1:
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
//         "modes": { "32": "rope", "64": "rope", "128": "yarn:2", "256": "yarn:4" }, "ppl": { ... } },
//       ...
//     ]
//   }
// `positions` describes the series symbolically; `modes` gives the exact mode (the text form
// `--pos` takes, so `ppl --pos MODE --lengths L` reproduces a point) for every length; `ppl` has
// one finite perplexity for every length. Series ids are unique. Keys not listed here are ignored
// by the reader (a later version-1 writer may add some); a change that a version-1 reader would
// misread must bump the version.

import { formatPositionMode, parsePositionMode, type PositionMode } from '../model/positions.ts';

export const EVAL_FORMAT = 'drope-playground/eval';
export const EVAL_VERSION = 1;

/** The series an evaluation can run, in the order they are written. */
export const SERIES_KINDS = ['rope', 'pi', 'ntk', 'yarn', 'dynamic', 'none'] as const;
export type SeriesKind = (typeof SERIES_KINDS)[number];

const LABELS: Record<Exclude<SeriesKind, 'none'>, string> = {
  rope: 'RoPE',
  pi: 'PI',
  ntk: 'NTK',
  yarn: 'YaRN',
  dynamic: 'Dynamic NTK',
};

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
  if (kind === 'rope' || s === 1) return { kind: 'rope' };
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

/**
 * The series run when `--modes` is not given: every RoPE-family mode, plus `none` when a logit
 * scale is asked for (betaCGiven) or the model was trained without positions (attention_type nope
 * or qk_norm_nope: DroPE).
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
    const base = kind === 'none' ? (options.noneLabel ?? (options.attentionType === 'rope' ? 'RoPE dropped' : 'DroPE')) : LABELS[kind];
    return {
      id: kind,
      label: betaC !== 0 ? `${base}, β c=${betaC}` : base,
      positions: kind === 'rope' || kind === 'none' ? kind : `${kind}:L/C`,
      beta_c: betaC,
      modes: new Map(lengths.map((L) => [L, seriesMode(kind, L, options)])),
    };
  });
}

/** The file's series entry for a plan and its results. */
export function seriesRecord(plan: SeriesPlan, ppl: ReadonlyMap<number, number>): EvalSeries {
  return {
    id: plan.id,
    label: plan.label,
    positions: plan.positions,
    beta_c: plan.beta_c,
    modes: Object.fromEntries([...plan.modes].map(([L, mode]) => [String(L), formatPositionMode(mode)])),
    ppl: Object.fromEntries([...plan.modes.keys()].map((L) => [String(L), ppl.get(L)!])),
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
  if (value.version !== EVAL_VERSION) {
    return fail(
      typeof value.version === 'number' && Number.isInteger(value.version) && value.version > EVAL_VERSION
        ? `version ${value.version} was written by a newer version of drope-playground; this one reads version ${EVAL_VERSION}`
        : `unsupported version ${JSON.stringify(value.version)} (expected ${EVAL_VERSION})`,
    );
  }

  const string = (v: unknown, field: string): string =>
    typeof v === 'string' && v !== '' ? v : fail(`${field} must be a non-empty string, got ${JSON.stringify(v)}`);
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
    };
  });

  return { format: EVAL_FORMAT, version: EVAL_VERSION, model, text, tokens: tokens as number, train_ctx: trainCtx, lengths, series };
}
