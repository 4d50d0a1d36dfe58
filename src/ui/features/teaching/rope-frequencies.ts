// RoPE's frequencies against the training window: for each frequency pair k of a head, how many
// full turns its rotation makes within the training context C_train and within an evaluated length
// L (with the selected scaling applied at L, exactly as an evaluation at L builds its tables).
// Pure: the inverse frequencies come from src/model/positions.ts, so the chart shows the numbers
// the model runs with.
//
// Glossary: D head dim, k = 0 .. D/2-1 the pair index, inv_freq[k] its angle per position (radians),
// C = C_train, L the evaluated length. Turns within n positions: n · inv_freq[k] / 2π.

import { inverseFrequencies, type RotaryParams } from '../../../model/positions.ts';
import { positionModeAt } from '../../settings.ts';
import type { Scaling } from '../../settings.ts';

export interface FrequencyRow {
  /** The pair index k. */
  pair: number;
  /** Positions per full turn with plain RoPE: 2π / inv_freq[k]. */
  period: number;
  /** Full turns within the training context, plain RoPE (what training saw). */
  turnsTrain: number;
  /** Full turns within L with plain RoPE (no scaling): where unscaled RoPE goes past training. */
  turnsAtLengthPlain: number;
  /** Full turns within L with the selected scaling at L. */
  turnsAtLength: number;
}

/**
 * One row per frequency pair. `scaling` 'none' means plain RoPE at L too. A pair whose
 * turnsTrain is below 1 never completed a turn in training: its angles past C are new to the model
 * unless scaling brings turnsAtLength back under turnsTrain.
 */
export function ropeFrequencyRows(params: RotaryParams, trainContext: number, length: number, scaling: Scaling): FrequencyRow[] {
  const plain = inverseFrequencies({ kind: 'rope' }, params, Math.max(1, trainContext));
  if (!plain) return [];
  const context = { trainContext, maxPositionEmbeddings: params.maxPositionEmbeddings };
  const mode = positionModeAt({ kind: scaling === 'none' ? 'rope' : scaling }, length, context);
  const scaled = inverseFrequencies(mode, params, length) ?? plain;
  const turn = 2 * Math.PI;
  return Array.from(plain.invFreq, (inv, pair) => ({
    pair,
    period: turn / inv,
    turnsTrain: (trainContext * inv) / turn,
    turnsAtLengthPlain: (length * inv) / turn,
    turnsAtLength: (length * scaled.invFreq[pair]) / turn,
  }));
}
