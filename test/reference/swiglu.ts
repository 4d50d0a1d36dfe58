// Float64 CPU reference of the SwiGLU forward kernel (src/engine/ops/swiglu.ts: swigluForward):
// LlamaMLP's act_fn(gate_proj(x)) * up_proj(x) with act_fn = SiLU (torch.nn.functional.silu),
// silu(g) = g * sigmoid(g) = g / (1 + exp(-g)). In float64 exp(-g) overflows only past |g| ~ 709,
// to Infinity, which gives the right limit 0. Independent of the WGSL.
//
// Pure TypeScript (no vitest, node:*, or engine imports): e2e/kernels/table.ts loads this module in
// the browser as well as in Node.
//
// Dimensions: R rows (B*T), I intermediate size; elementwise, so any shape works.

/** out [R, I] = silu(gate [R, I]) * up [R, I], elementwise, in float64. */
export function swigluReference(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: gate.length }, (_, i) => (gate[i] / (1 + Math.exp(-gate[i]))) * up[i]);
}
