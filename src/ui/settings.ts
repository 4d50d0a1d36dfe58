// What an evaluation runs with, and how a setting becomes a chart series: pure functions shared by
// the UI thread (series keys, labels, lengths) and the engine worker (the position mode per length).
//
// Glossary: L an evaluated sequence length, C = C_train the training context (config.json's
// max_position_embeddings), c DroPE's logit-scale coefficient (beta = 1 + c·ln(L / C) past C).

import { seriesMode, type SeriesContext } from '../eval/curves.ts';
import type { PositionMode } from '../model/positions.ts';

/** The "Position scaling" choices; each stretches RoPE by factor L / C at an evaluated length L. */
export const SCALINGS = ['none', 'pi', 'ntk', 'yarn'] as const;
export type Scaling = (typeof SCALINGS)[number];

export const SCALING_LABELS: Record<Scaling, string> = { none: 'None', pi: 'PI', ntk: 'NTK', yarn: 'YaRN' };

/** The settings of one evaluation (serializable: they cross to the worker). */
export interface EvalSettings {
  /** The "RoPE" switch; ignored for a variant that has no RoPE. */
  rope: boolean;
  scaling: Scaling;
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

/** How positions enter attention in an evaluation: 'none' when RoPE is off or dropped. */
export type EffectiveMode = 'rope' | 'none' | Exclude<Scaling, 'none'>;

export function effectiveMode(settings: EvalSettings, hasRope: boolean): EffectiveMode {
  if (!hasRope || !settings.rope) return 'none';
  return settings.scaling === 'none' ? 'rope' : settings.scaling;
}

/**
 * The position mode at length L: scaled RoPE stretches by factor L / C past the training context
 * and is plain RoPE up to it, exactly as the recorded curves were made (src/eval/curves.ts
 * seriesMode), so a live point and a recorded one of the same setting are the same measurement.
 */
export function positionModeAt(mode: EffectiveMode, L: number, context: SeriesContext): PositionMode {
  return seriesMode(mode, L, context);
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

/** The chart series an evaluation fills: one per (variant, position mode, c). */
export function seriesId(variant: string, mode: EffectiveMode, c: number): string {
  return `${variant}|${mode}|${formatC(c)}`;
}

const MODE_SUFFIX: Record<EffectiveMode, string> = { rope: '', none: '', pi: ' + PI', ntk: ' + NTK', yarn: ' + YaRN' };

/**
 * The legend name of a series. The loaded model's own curves are named after their positions
 * ("RoPE", "RoPE + YaRN", "RoPE switched off"); a variant made in the page by its label.
 */
export function seriesLabel(variant: VariantInfo, mode: EffectiveMode, c: number): string {
  let label: string;
  if (variant.kind !== 'base') label = variant.label;
  else if (!variant.hasRope) label = variant.label;
  else if (mode === 'none') label = 'RoPE switched off';
  else label = `RoPE${MODE_SUFFIX[mode]}`;
  return c > 0 ? `${label} · c = ${formatC(c)}` : label;
}

