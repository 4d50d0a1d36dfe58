// Float64 CPU reference of the RoPE kernels (src/engine/ops/rope.ts: ropeForward, ropeBackward):
// Hugging Face's apply_rotary_pos_emb for one tensor, written as HF writes it,
//   y = x * cat(cos, cos) + rotate_half(x) * cat(sin, sin),   rotate_half(x) = cat(-x2, x1),
// so dim k pairs with k + D/2 (not interleaved neighbours). The backward pass is the transpose of
// the rotation, the same formula with the angle negated (sin -> -sin). Independent of the WGSL.
//
// Pure TypeScript (no vitest, node:*, or engine imports): e2e/kernels/table.ts loads this module in
// the browser as well as in Node.
//
// Dimensions: rows = B*T token rows, T positions per sequence, heads, D = headDim (even),
// P table rows (positions, >= positionOffset + T). x [rows, heads*D]; cos, sin [P, D/2].

/** The sizes of one RoPE call (structurally the engine's Required<RopeShape>). */
export interface RopeReferenceShape {
  rows: number;
  T: number;
  heads: number;
  headDim: number;
  /** Position of each sequence's first row (a KV cache's length); row r is at offset + r % T. */
  positionOffset: number;
}

/**
 * y [rows, heads*headDim] = x rotated by the angles of row r's position positionOffset + r % T,
 * read from cos and sin [P, headDim/2], in float64. `sign` -1 negates the angle: the backward pass.
 */
export function ropeReference(
  x: ArrayLike<number>,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  shape: RopeReferenceShape,
  sign: 1 | -1 = 1,
): Float64Array {
  const { rows, T, heads, headDim: D, positionOffset } = shape;
  const half = D / 2;
  const y = new Float64Array(rows * heads * D);
  for (let r = 0; r < rows; r++) {
    const pos = positionOffset + (r % T);
    const cosHalf = Array.from({ length: half }, (_, k) => cos[pos * half + k]);
    const sinHalf = Array.from({ length: half }, (_, k) => sign * sin[pos * half + k]);
    const cosFull = [...cosHalf, ...cosHalf];
    const sinFull = [...sinHalf, ...sinHalf];
    for (let h = 0; h < heads; h++) {
      const base = (r * heads + h) * D;
      const head = Array.from({ length: D }, (_, d) => x[base + d]);
      const rotated = [...head.slice(half).map((v) => -v), ...head.slice(0, half)];
      for (let d = 0; d < D; d++) y[base + d] = head[d] * cosFull[d] + rotated[d] * sinFull[d];
    }
  }
  return y;
}
