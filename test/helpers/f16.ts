// The CPU side of half-precision weights in tests: what a weight becomes when stored as binary16.

/**
 * x rounded to the nearest binary16 value (ties to even), overflow to ±Infinity: by arithmetic on
 * the value's binary16 ulp, independent of the bit manipulation in src/engine/f16.ts.
 */
export function roundToF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const magnitude = Math.abs(x);
  // Subnormals share the ulp of the smallest normal exponent, 2^-14 · 2^-10.
  const ulp = 2 ** (Math.max(Math.floor(Math.log2(magnitude)), -14) - 10);
  const q = magnitude / ulp; // exact: a power-of-two scaling
  let r = Math.round(q);
  if (r - q === 0.5 && r % 2 === 1) r -= 1; // Math.round takes ties up; IEEE takes them to even
  const rounded = r * ulp;
  return Math.sign(x) * (rounded > 65504 ? Infinity : rounded);
}
