// Float64 CPU reference of the matmul kernels (src/engine/ops/matmul.ts: matmul, matmulNaive,
// linear): torch.matmul(op(A), op(B)) with op = identity or .T, optionally added to C (addmm's
// beta = 1), and nn.Linear without bias, y = x W^T, as the transB case. Written index by index from
// the definition, independent of the WGSL (no tiles, no shared code with shaders/matmul.wgsl).
//
// Pure TypeScript (no vitest, node:*, or engine imports): e2e/kernels/table.ts loads this module in
// the browser as well as in Node.
//
// Dimensions: M rows of C, N columns of C, K the inner (summed) dimension. All arrays row-major.

/** Which operands are stored transposed, and whether C's previous contents are added. */
export interface MatmulReferenceOptions {
  /** A is stored [K, M] and used transposed (op(A) = A^T). */
  transA?: boolean;
  /** B is stored [N, K] and used transposed (op(B) = B^T), as nn.Linear's weight [out, in]. */
  transB?: boolean;
  /** C = c0 + op(A)·op(B) rather than op(A)·op(B); needs `c0`. */
  accumulate?: boolean;
}

/**
 * c [M, N] = (accumulate ? c0 [M, N] : 0) + op(A)·op(B), in float64, summing k = 0..K-1 in order.
 * a: stored [M, K] ([K, M] if transA); b: stored [K, N] ([N, K] if transB); c0: [M, N], read only
 * with accumulate (it may be passed and ignored otherwise).
 */
export function matmulReference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  options: MatmulReferenceOptions,
  c0?: ArrayLike<number>,
): Float64Array {
  if (options.accumulate && !c0) throw new Error('matmulReference: accumulate needs c0');
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = options.accumulate ? c0![m * N + n] : 0;
      for (let k = 0; k < K; k++) {
        const av = options.transA ? a[k * M + m] : a[m * K + k];
        const bv = options.transB ? b[n * K + k] : b[k * N + n];
        sum += av * bv;
      }
      c[m * N + n] = sum;
    }
  }
  return c;
}

/** nn.Linear without bias in float64: y [R, out] = x [R, in] · weight [out, in]^T. */
export function linearReference(x: ArrayLike<number>, weight: ArrayLike<number>, R: number, out: number, inF: number): Float64Array {
  return matmulReference(x, weight, R, out, inF, { transB: true });
}
