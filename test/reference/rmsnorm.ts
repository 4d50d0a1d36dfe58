// Float64 CPU reference of the RMSNorm forward kernel (src/engine/ops/rmsnorm.ts: rmsnormForward):
// Hugging Face's LlamaRMSNorm, y = x / sqrt(mean(x^2) + eps) * weight, per row, plus the 1/rms that
// the kernel saves for the backward pass. Independent of the WGSL (no workgroup reduction).
//
// Pure TypeScript (no vitest, node:*, or engine imports): e2e/kernels/table.ts loads this module in
// the browser as well as in Node.
//
// Dimensions: rows = B*T token rows, C channels (hidden_size).

/**
 * y [rows, C] = x [rows, C] * rstd[row] * weight [C], rstd [rows] = 1 / sqrt(mean_c(x^2) + eps),
 * in float64.
 */
export function rmsnormReference(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  rows: number,
  C: number,
  eps: number,
): { y: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(rows * C);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[r * C + c] ** 2;
    const inv = 1 / Math.sqrt(ss / C + eps);
    rstd[r] = inv;
    for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * inv * weight[c];
  }
  return { y, rstd };
}
