// Half precision on the CPU, the one place it is written: IEEE 754 binary16 and bfloat16 bit
// patterns to and from f32 (safetensors' F16 and BF16, src/model/safetensors.ts), and f16 weights
// on the GPU: f32 values rounded to binary16 and packed two per u32 word (element 2i in the low 16
// bits, 2i+1 in the high 16 bits), the layout WGSL's core built-in `unpack2x16float` reads back, so
// no adapter feature (`shader-f16`) is needed.

/**
 * The f32 value of an IEEE 754 binary16 bit pattern: 1 sign bit, 5 exponent bits (bias 15),
 * 10 mantissa bits. Every binary16 value is exactly representable in binary32.
 */
export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals: mantissa × 2^-24
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25); // (1 + m/1024) × 2^(e-15)
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function f32Bits(value: number): number {
  f32Scratch[0] = value;
  return u32Scratch[0];
}

/**
 * The binary16 bit pattern nearest to the f32 value of `value` (round to nearest, ties to even),
 * with overflow to ±infinity, gradual underflow to subnormals, and NaN kept as a quiet NaN.
 */
export function f32ToF16Bits(value: number): number {
  const x = f32Bits(value);
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >>> 13) : 0);
  const e = exponent - 127 + 15; // the binary16 biased exponent
  if (e >= 31) return sign | 0x7c00; // |value| >= 2^16 > 65520, the first value rounding to inf
  if (e <= 0) {
    // Subnormal (or zero) result: the unit is 2^-24, so the result is the full significand
    // (implicit bit included) shifted right by 14 - e (for e = 0) and rounded.
    if (exponent === 0) return sign; // f32 zeros and subnormals are far below 2^-25
    const significand = mantissa | 0x800000;
    const shift = 14 - e;
    if (shift > 24) return sign; // below 2^-25: rounds to zero (2^-25 itself ties to even 0)
    let q = significand >>> shift;
    const rest = significand & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && q & 1)) q++;
    return sign | q; // q may reach 0x400, which is exactly the smallest normal
  }
  let q = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && q & 1)) q++; // a carry into the exponent is still correct, up to inf
  return sign | q;
}

/** The bfloat16 bit pattern nearest to the f32 value of `value` (ties to even; NaN stays a quiet NaN). */
export function f32ToBF16Bits(value: number): number {
  const x = f32Bits(value);
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Rounds each value to binary16 and packs pairs into words; an odd length pads the last word with 0. */
export function packF16(values: ArrayLike<number>): Uint32Array {
  const words = new Uint32Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i += 2) {
    const high = i + 1 < values.length ? f32ToF16Bits(values[i + 1]) : 0;
    words[i >> 1] = (f32ToF16Bits(values[i]) | (high << 16)) >>> 0;
  }
  return words;
}

/** The first `count` values of packed binary16 words, as f32. */
export function unpackF16(words: Uint32Array, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = f16BitsToF32((words[i >> 1] >>> ((i & 1) * 16)) & 0xffff);
  return out;
}
