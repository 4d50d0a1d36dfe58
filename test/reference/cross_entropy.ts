// Float64 CPU reference of the cross-entropy forward kernel (src/engine/ops/cross_entropy.ts:
// nllForward): F.cross_entropy(logits, targets, reduction='none', ignore_index=IGNORE_INDEX), per
// row nll = logsumexp(row) - row[target] with the max subtracted, 0 for an ignored row.
// Independent of the WGSL (no workgroup reduction).
//
// Pure TypeScript (no vitest, node:*, or engine imports): e2e/kernels/table.ts loads this module in
// the browser as well as in Node.
//
// Dimensions: R rows (B*T predictions), V vocabulary.

/**
 * PyTorch's ignore_index as our API spells it: the largest u32. The engine's IGNORE_TARGET
 * (src/engine/ops/cross_entropy.ts) must equal it; e2e/kernels/table.ts checks that they agree.
 */
export const IGNORE_INDEX = 0xffffffff;

/**
 * nll [R] from logits [R, V] and targets [R], in float64: logsumexp(row) - row[target]; 0 where the
 * target is IGNORE_INDEX; NaN for any other target >= V (PyTorch would raise; the kernel gives NaN).
 */
export function nllReference(logits: ArrayLike<number>, targets: ArrayLike<number>, V: number): Float64Array {
  return Float64Array.from({ length: targets.length }, (_, r) => {
    const t = targets[r];
    if (t === IGNORE_INDEX) return 0;
    if (t >= V) return NaN;
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, logits[r * V + v]);
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(logits[r * V + v] - m);
    return m + Math.log(s) - logits[r * V + t];
  });
}
