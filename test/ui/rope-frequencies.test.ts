// The RoPE frequency view's numbers, checked against the definition (θ^(-2k/D) by hand) and against
// src/model/positions.ts's scaled frequencies.

import { describe, expect, it } from 'vitest';
import { inverseFrequencies } from '../../src/model/positions.ts';
import { ropeFrequencyRows } from '../../src/ui/features/teaching/rope-frequencies.ts';

const params = { headDim: 16, ropeTheta: 10000, maxPositionEmbeddings: 16 };

describe('ropeFrequencyRows', () => {
  it('counts turns within C_train and L from θ^(-2k/D), plain RoPE', () => {
    const rows = ropeFrequencyRows(params, 16, 64, 'none');
    expect(rows).toHaveLength(8);
    for (const row of rows) {
      const inv = 1 / 10000 ** ((2 * row.pair) / 16);
      expect(row.turnsTrain).toBeCloseTo((16 * inv) / (2 * Math.PI), 5);
      expect(row.turnsAtLength).toBeCloseTo((64 * inv) / (2 * Math.PI), 5);
      expect(row.turnsAtLengthPlain).toBeCloseTo(row.turnsAtLength, 6);
      expect(row.period).toBeCloseTo((2 * Math.PI) / inv, 2);
    }
    // The fastest pair turns most; each slower pair turns less.
    for (let k = 1; k < rows.length; k++) expect(rows[k].turnsTrain).toBeLessThan(rows[k - 1].turnsTrain);
  });

  it('PI at L = 4C brings every pair back to its training turns', () => {
    const rows = ropeFrequencyRows(params, 16, 64, 'pi');
    for (const row of rows) expect(row.turnsAtLength).toBeCloseTo(row.turnsTrain, 5);
  });

  it('YaRN and NTK use positions.ts frequencies at factor L / C, compressing the slow pairs most', () => {
    for (const kind of ['yarn', 'ntk'] as const) {
      const rows = ropeFrequencyRows(params, 16, 64, kind);
      const inv = inverseFrequencies({ kind, factor: 4 }, params, 64)!.invFreq;
      rows.forEach((row, k) => expect(row.turnsAtLength).toBeCloseTo((64 * inv[k]) / (2 * Math.PI), 5));
      const ratio = (k: number) => rows[k].turnsAtLength / rows[k].turnsAtLengthPlain;
      // Fast pairs (k = 0) keep (almost) their frequency; the slowest is compressed the most.
      expect(ratio(0)).toBeGreaterThan(0.9);
      expect(ratio(rows.length - 1)).toBeLessThan(ratio(0));
      expect(ratio(rows.length - 1)).toBeLessThan(0.5);
    }
  });

  it('at or below C_train scaling changes nothing', () => {
    const plain = ropeFrequencyRows(params, 16, 16, 'none');
    expect(ropeFrequencyRows(params, 16, 16, 'yarn')).toEqual(plain);
  });
});
