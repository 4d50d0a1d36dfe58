// Half-precision weights on the GPU: f32 values rounded to IEEE 754 binary16 and packed two per
// u32 word (element 2i in the low 16 bits, 2i+1 in the high 16 bits), the layout WGSL's core
// built-in `unpack2x16float` reads back, so no adapter feature (`shader-f16`) is needed.

const scratch = new DataView(new ArrayBuffer(4));

/** The binary16 bits of `x`, rounded to nearest, ties to even; overflow gives ±Inf, NaN stays NaN. */
export function f16Bits(x: number): number {
  scratch.setFloat32(0, x);
  const bits = scratch.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf, or a quiet NaN
  const e = exponent - 127 + 15; // the binary16 exponent field, if representable
  if (e >= 0x1f) return sign | 0x7c00; // too large: Inf
  if (e <= 0) {
    // Subnormal (or zero) in binary16: the value is m * 2^-24 with m < 1024.
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    const full = mantissa | 0x800000; // 24 significant bits
    const shift = 14 - e; // 14..24
    return sign | roundShift(full, shift);
  }
  // Normal: keep 10 of the 23 mantissa bits; a carry out of the mantissa bumps the exponent
  // (and 65520 and up round to Inf), which plain addition of the bit fields does by itself.
  return sign | ((e << 10) + roundShift(mantissa, 13));
}

/** value >> shift rounded to nearest, ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** The number binary16 `bits` stand for. */
export function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** Rounds each value to binary16 and packs pairs into words; an odd length pads the last word with 0. */
export function packF16(values: ArrayLike<number>): Uint32Array {
  const words = new Uint32Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i += 2) {
    const high = i + 1 < values.length ? f16Bits(values[i + 1]) : 0;
    words[i >> 1] = (f16Bits(values[i]) | (high << 16)) >>> 0;
  }
  return words;
}

/** The first `count` values of packed binary16 words, as f32. */
export function unpackF16(words: Uint32Array, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = f16Value((words[i >> 1] >>> ((i & 1) * 16)) & 0xffff);
  return out;
}
