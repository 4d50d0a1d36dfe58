// Comparison of GPU output with a CPU reference: the largest absolute difference, measured against
// the reference's own scale (its largest magnitude), with the first mismatches named on failure.

import { expect } from 'vitest';

export interface CloseOptions {
  /** Allowed max |actual - expected| as a fraction of max |expected| (floored at `minScale`). */
  tolerance: number;
  minScale?: number;
  /** Shape and case description, printed on failure. */
  what: string;
}

export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, options: CloseOptions): void {
  const { tolerance, minScale = 1e-6, what } = options;
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const scale = Math.max(maxAbs(expected), minScale);
  const limit = tolerance * scale;
  let worst = 0;
  const mismatches: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= limit)) {
      if (mismatches.length < 5) mismatches.push(`[${i}] got ${actual[i]} want ${expected[i]}`);
    }
    if (!(diff <= worst)) worst = Number.isNaN(diff) ? Infinity : diff;
  }
  if (mismatches.length > 0) {
    throw new Error(
      `${what}: max abs diff ${worst} > ${limit} (${tolerance} x scale ${scale}); first mismatches: ${mismatches.join(', ')}`,
    );
  }
}
