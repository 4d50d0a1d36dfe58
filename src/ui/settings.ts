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
/** A choice of the "Position scaling" select ('none': unscaled RoPE); positionSetting turns it into a PositionSetting. */
export type Scaling = (typeof SCALINGS)[number];

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

/** The evaluation settings of a larger object (the page's config): what crosses to the worker. */
export function evalSettingsOf({ rope, scaling, factor, c }: EvalSettings): EvalSettings {
  return { rope, scaling, factor, c };
}

export const BASE_VARIANT = 'base';

/** The position kinds the page evaluates: every series kind of src/eval/curves.ts but dynamic NTK. */
export type PositionKind = Exclude<SeriesKind, 'dynamic'>;

/**
 * How positions enter one evaluation: the page's one name for it. `kind` is 'none' when there are
 * no rotary embeddings (the RoPE switch off, or a variant without RoPE), 'rope' unscaled, 'crop'
 * RoPE cropped to the last C_train keys, or a scaling; `factor` is a scaling's fixed factor F, or
 * absent for s = L / C at each length. Its key (positionKey) names the chart series, so a fixed
 * factor is a series of its own and never matches a recorded per-length one.
 */
export interface PositionSetting {
  kind: PositionKind;
  factor?: FixedFactor;
}

export function positionSetting(settings: EvalSettings, hasRope: boolean): PositionSetting {
  if (!hasRope || !settings.rope) return { kind: 'none' };
  if (settings.scaling === 'none') return { kind: 'rope' };
  if (settings.scaling === 'crop') return { kind: 'crop' };
  const factor = settings.factor ?? 'length';
  return factor === 'length' ? { kind: settings.scaling } : { kind: settings.scaling, factor };
}

/** Its key in series ids: "none", "rope", "crop", "yarn" (per length), "yarn:8" (fixed factor). */
export function positionKey(position: PositionSetting): string {
  return position.factor === undefined ? position.kind : `${position.kind}:${position.factor}`;
}

/**
 * The position mode at length L. Per length, scaled RoPE stretches by factor L / C past the
 * training context and is plain RoPE up to it, exactly as the recorded curves were made
 * (src/eval/curves.ts seriesMode), so a live point and a recorded one of the same setting are the
 * same measurement. A fixed factor F gives kind:F at every L, below C as well.
 */
export function positionModeAt(position: PositionSetting, L: number, context: SeriesContext): PositionMode {
  return seriesMode(position.kind, L, context, position.factor);
}

/** The attention window of a setting: C_train keys for 'crop', none (undefined) otherwise. */
export function attentionWindowOf(position: PositionSetting, trainContext: number): number | undefined {
  return seriesWindow(position.kind, trainContext);
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

/** The chart series an evaluation fills: one per (variant, position setting, c). */
export function seriesId(variant: string, position: PositionSetting, c: number): string {
  return `${variant}|${positionKey(position)}|${formatC(c)}`;
}

/**
 * What the positions of a RoPE model trained at C_train are called: "RoPE", "RoPE + YaRN",
 * "RoPE + YaRN ×8", "RoPE, cropped to the last 64 tokens"; undefined for 'none'.
 */
export function ropeModeName({ kind, factor }: PositionSetting, trainContext: number): string | undefined {
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
export function seriesLabel(variant: VariantInfo, position: PositionSetting, c: number, trainContext: number): string {
  let label: string;
  if (variant.kind !== 'base') label = variant.label;
  else if (!variant.hasRope) label = variant.label;
  else label = ropeModeName(position, trainContext) ?? 'RoPE switched off';
  return c > 0 ? `${label} · c = ${formatC(c)}` : label;
}
