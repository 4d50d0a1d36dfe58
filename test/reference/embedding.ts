// Float64 CPU reference of the embedding forward kernel (src/engine/ops/embedding.ts:
// embeddingForward): nn.Embedding, row r of the output is row ids[r] of the table, with the op's
// documented guard that an id outside the vocabulary gives a zero row (PyTorch would raise).
// Independent of the WGSL.
//
// Pure TypeScript (no vitest, node:*, or engine imports): e2e/kernels/table.ts loads this module in
// the browser as well as in Node.
//
// Dimensions: R rows (token ids, B*T flattened), V vocabulary, C channels.

/** out [R, C]: out[r] = table [V, C] row ids[r] for ids [R]; ids >= V give zeros. A copy, so exact. */
export function embeddingReference(ids: ArrayLike<number>, table: ArrayLike<number>, V: number, C: number): Float64Array {
  const R = ids.length;
  const out = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    const id = ids[r];
    if (id >= V) continue;
    for (let c = 0; c < C; c++) out[r * C + c] = table[id * C + c];
  }
  return out;
}
