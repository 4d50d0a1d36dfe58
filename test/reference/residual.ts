// Float64 CPU reference of the residual kernel (src/engine/ops/residual.ts: addInPlace): the
// residual connection of LlamaDecoderLayer, hidden_states = residual + hidden_states, elementwise.
// The sum of two f32 values in float64 is exact here, so Math.fround of it is the correctly rounded
// f32 sum. Independent of the WGSL.
//
// Pure TypeScript (no vitest, node:*, or engine imports): e2e/kernels/table.ts loads this module in
// the browser as well as in Node.

/** x + y elementwise in float64, for x and y of the same (any) shape. */
export function residualAddReference(x: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => x[i] + y[i]);
}
