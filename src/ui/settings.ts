// What an evaluation runs with, and how a setting becomes a chart series: pure functions shared by
// the UI thread (series keys, labels, lengths) and the engine worker (the position mode per length).
//
// Glossary: L an evaluated sequence length, C = C_train the training context (config.json's
// max_position_embeddings), F a fixed scaling factor (the "Scaling factor" select), c DroPE's
// logit-scale coefficient (beta = 1 + c·ln(L / C) past C).

import { seriesMode, type SeriesContext } from '../eval/curves.ts';
import type { PositionMode } from '../model/positions.ts';

/** The "Position scaling" choices; each stretches RoPE by its factor (see SCALING_FACTORS). */
export const SCALINGS = ['none', 'pi', 'ntk', 'yarn'] as const;
export type Scaling = (typeof SCALINGS)[number];
export type ScaledKind = Exclude<Scaling, 'none'>;

export const SCALING_LABELS: Record<Scaling, string> = { none: 'None', pi: 'PI', ntk: 'NTK', yarn: 'YaRN' };

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
 * unscaled, the scaling's kind when its factor is L / C per length, and "kind:F" (e.g. "yarn:8")
 * for a fixed factor F. It names the series (seriesId), so a fixed factor is a series of its own
 * and never matches a recorded per-length one (recorded-curves.ts compares modes exactly).
 */
export type EffectiveMode = 'rope' | 'none' | ScaledKind | `${ScaledKind}:${FixedFactor}`;

export function effectiveMode(settings: EvalSettings, hasRope: boolean): EffectiveMode {
  if (!hasRope || !settings.rope) return 'none';
  if (settings.scaling === 'none') return 'rope';
  const factor = settings.factor ?? 'length';
  return factor === 'length' ? settings.scaling : `${settings.scaling}:${factor}`;
}

/** A mode's position kind and its fixed factor (undefined: per length, or no scaling). */
export function splitMode(mode: EffectiveMode): { kind: 'rope' | 'none' | ScaledKind; factor?: FixedFactor } {
  const colon = mode.indexOf(':');
  if (colon < 0) return { kind: mode as 'rope' | 'none' | ScaledKind };
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

/** The evaluated lengths: C/2, C, 2C, 4C, 8C, 16C. */
export function evaluationLengths(trainContext: number): number[] {
  const lengths = [Math.max(2, Math.round(trainContext / 2))];
  for (let multiple = 1; multiple <= 16; multiple *= 2) lengths.push(trainContext * multiple);
  return [...new Set(lengths)];
}

/** c as it appears in keys and labels: two decimals, so slider steps never split one series. */
export function formatC(c: number): string {
  return c.toFixed(2);
}

/** The chart series an evaluation fills: one per (variant, position mode with its factor, c). */
export function seriesId(variant: string, mode: EffectiveMode, c: number): string {
  return `${variant}|${mode}|${formatC(c)}`;
}

const KIND_SUFFIX: Record<ScaledKind, string> = { pi: ' + PI', ntk: ' + NTK', yarn: ' + YaRN' };

/** What the positions of a RoPE model are called: "RoPE", "RoPE + YaRN", "RoPE + YaRN ×8"; undefined for 'none'. */
export function ropeModeName(mode: EffectiveMode): string | undefined {
  const { kind, factor } = splitMode(mode);
  if (kind === 'none') return undefined;
  if (kind === 'rope') return 'RoPE';
  return `RoPE${KIND_SUFFIX[kind]}${factor === undefined ? '' : ` ×${factor}`}`;
}

/**
 * The legend name of a series. The loaded model's own curves are named after their positions
 * ("RoPE", "RoPE + YaRN", "RoPE + YaRN ×8", "RoPE switched off"); a variant made in the page by
 * its label.
 */
export function seriesLabel(variant: VariantInfo, mode: EffectiveMode, c: number): string {
  let label: string;
  if (variant.kind !== 'base') label = variant.label;
  else if (!variant.hasRope) label = variant.label;
  else label = ropeModeName(mode) ?? 'RoPE switched off';
  return c > 0 ? `${label} · c = ${formatC(c)}` : label;
}
