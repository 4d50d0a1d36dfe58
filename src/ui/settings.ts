// What an evaluation runs with, and how a setting becomes a chart series: pure functions shared by
// the UI thread (series keys, labels, lengths) and the engine worker (the position mode per length).
//
// Glossary: L an evaluated sequence length, C = C_train the training context (config.json's
// max_position_embeddings), F a fixed scaling factor (the "Scaling factor" select), c DroPE's
// logit-scale coefficient (beta = 1 + c·ln(L / C) past C).

import { cropLabel, SERIES_LABELS, seriesMode, seriesWindow, type SeriesContext, type SeriesKind } from '../eval/curves.ts';
import type { PositionMode } from '../model/positions.ts';

/**
 * The "Position scaling" choices: PI, NTK and YaRN stretch RoPE by their factor (see
 * SCALING_FACTORS); 'crop' is plain RoPE with an attention window of C_train keys, the paper's
 * crop baseline (src/eval/curves.ts), with no factor.
 */
export const SCALINGS = ['none', 'pi', 'ntk', 'yarn', 'crop'] as const;
export type Scaling = (typeof SCALINGS)[number];
export type ScaledKind = Exclude<Scaling, 'none' | 'crop'>;

/** A scaling's name in the selects: the series' names of src/eval/curves.ts (C unknown: "C_train"). */
export function scalingLabel(scaling: Scaling, trainContext: number | null): string {
  if (scaling === 'none') return 'None';
  if (scaling === 'crop') return cropLabel(trainContext ?? 'C_train');
  return SERIES_LABELS[scaling];
}

/**
 * The "Scaling factor" choices: 'length' is s = max(1, L / C) at each evaluated length L (plain
 * RoPE up to C, as the recorded curves were made); a number is a static factor used at every
 * length, within the training window too, as transformers applies a config's rope_scaling.factor.
 */
export const SCALING_FACTORS = ['length', 2, 4, 8, 16] as const;
export type ScalingFactor = (typeof SCALING_FACTORS)[number];
export type FixedFactor = Exclude<ScalingFactor, 'length'>;

/** The settings of one evaluation (serializable: they cross to the worker). */
export interface EvalSettings {
  /** The "RoPE" switch; ignored for a variant that has no RoPE. */
  rope: boolean;
  scaling: Scaling;
  /** The scaling's factor; absent means 'length' (per length). Ignored when scaling is 'none'. */
  factor?: ScalingFactor;
  /** c of the logit scale, 0 to 1. */
  c: number;
}

/** A set of weights in the worker: the loaded model, or one made from it in the page. */
export interface VariantInfo {
  id: string;
  label: string;
  kind: 'base' | 'dropped' | 'recalibrated';
  /** False once RoPE is dropped (and for a checkpoint trained without it). */
  hasRope: boolean;
  /** The variant it was made from. */
  parent?: string;
  /** One line for the variant list: where it came from. */
  detail: string;
}

export const BASE_VARIANT = 'base';

/**
 * How positions enter attention in an evaluation: 'none' when RoPE is off or dropped, 'rope' when
 * unscaled, 'crop' for RoPE cropped to the last C_train tokens, the scaling's kind when its factor
 * is L / C per length, and "kind:F" (e.g. "yarn:8") for a fixed factor F. It names the series
 * (seriesId), so a fixed factor is a series of its own and never matches a recorded per-length one
 * (recorded-curves.ts compares modes exactly).
 */
export type EffectiveMode = 'rope' | 'none' | 'crop' | ScaledKind | `${ScaledKind}:${FixedFactor}`;

export function effectiveMode(settings: EvalSettings, hasRope: boolean): EffectiveMode {
  if (!hasRope || !settings.rope) return 'none';
  if (settings.scaling === 'none') return 'rope';
  if (settings.scaling === 'crop') return 'crop';
  const factor = settings.factor ?? 'length';
  return factor === 'length' ? settings.scaling : `${settings.scaling}:${factor}`;
}

type ModeKind = 'rope' | 'none' | 'crop' | ScaledKind;

/** A mode's position kind and its fixed factor (undefined: per length, or no scaling). */
export function splitMode(mode: EffectiveMode): { kind: ModeKind; factor?: FixedFactor } {
  const colon = mode.indexOf(':');
  if (colon < 0) return { kind: mode as ModeKind };
  return { kind: mode.slice(0, colon) as ScaledKind, factor: Number(mode.slice(colon + 1)) as FixedFactor };
}

/**
 * The position mode at length L. Per length, scaled RoPE stretches by factor L / C past the
 * training context and is plain RoPE up to it, exactly as the recorded curves were made
 * (src/eval/curves.ts seriesMode), so a live point and a recorded one of the same setting are the
 * same measurement. A fixed factor F gives kind:F at every L, below C as well.
 */
export function positionModeAt(mode: EffectiveMode, L: number, context: SeriesContext): PositionMode {
  const { kind, factor } = splitMode(mode);
  return seriesMode(kind, L, context, factor);
}

/** The attention window of a mode: C_train keys for 'crop', none (undefined) otherwise. */
export function attentionWindowOf(mode: EffectiveMode, trainContext: number): number | undefined {
  return seriesWindow(splitMode(mode).kind as SeriesKind, trainContext);
}

/**
 * The page's one ladder of lengths: C/2 (with `half`; at least 2), then C, 2C, 4C… up to `upTo`
 * times C. Every chart's lengths are rungs of it, so series measured by one feature line up with
 * another's.
 */
export function lengthLadder(trainContext: number, upTo: number, { half = false } = {}): number[] {
  const lengths = half ? [Math.max(2, Math.round(trainContext / 2))] : [];
  for (let multiple = 1; multiple <= upTo; multiple *= 2) lengths.push(trainContext * multiple);
  return [...new Set(lengths)];
}

/** The evaluated lengths: C/2, C, 2C, 4C, 8C, 16C. */
export function evaluationLengths(trainContext: number): number[] {
  return lengthLadder(trainContext, 16, { half: true });
}

/** c as it appears in keys and labels: two decimals, so slider steps never split one series. */
export function formatC(c: number): string {
  return c.toFixed(2);
}

/** The chart series an evaluation fills: one per (variant, position mode with its factor, c). */
export function seriesId(variant: string, mode: EffectiveMode, c: number): string {
  return `${variant}|${mode}|${formatC(c)}`;
}

/**
 * What the positions of a RoPE model trained at C_train are called: "RoPE", "RoPE + YaRN",
 * "RoPE + YaRN ×8", "RoPE, cropped to the last 64 tokens"; undefined for 'none'.
 */
export function ropeModeName(mode: EffectiveMode, trainContext: number): string | undefined {
  const { kind, factor } = splitMode(mode);
  if (kind === 'none') return undefined;
  if (kind === 'rope') return 'RoPE';
  if (kind === 'crop') return cropLabel(trainContext);
  return `RoPE + ${SERIES_LABELS[kind]}${factor === undefined ? '' : ` ×${factor}`}`;
}

/**
 * The legend name of a series of a model trained at C_train. The loaded model's own curves are
 * named after their positions ("RoPE", "RoPE + YaRN", "RoPE + YaRN ×8", "RoPE switched off"); a
 * variant made in the page by its label.
 */
export function seriesLabel(variant: VariantInfo, mode: EffectiveMode, c: number, trainContext: number): string {
  let label: string;
  if (variant.kind !== 'base') label = variant.label;
  else if (!variant.hasRope) label = variant.label;
  else label = ropeModeName(mode, trainContext) ?? 'RoPE switched off';
  return c > 0 ? `${label} · c = ${formatC(c)}` : label;
}
