// The residual stream update of a Llama decoder layer (HF LlamaDecoderLayer: hidden_states =
// residual + hidden_states), done in place so the stream needs one buffer:
//   x += y
// One invocation per element, dispatched one-dimensionally (possibly folded, see `foldDispatch`).
//
// Glossary: n elements (R*C for the residual stream: R rows = B*T tokens, C channels).

struct Params {
  n: u32,
}

override WG: u32 = 64;

// Activations (`act`: f32, or f16 at f16 precision); the sum is taken in f32.
@group(0) @binding(0) var<storage, read_write> x: array<act>;  // [n], updated in place
@group(0) @binding(1) var<storage, read> y: array<act>;        // [n], added to x
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn add_in_place(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = linear_invocation_id(wid, nwg, lid, WG);
  // Folding and rounding up to whole workgroups add invocations past the end.
  if (i >= p.n) {
    return;
  }
  x[i] = act(f32(x[i]) + f32(y[i]));
}
