// The SwiGLU gate of Hugging Face's LlamaMLP (hidden_act = "silu"):
//   down_proj(act_fn(gate_proj(x)) * up_proj(x)),  act_fn = silu(x) = x * sigmoid(x)
// This file computes the middle part, out = silu(gate) * up, elementwise.
// One invocation per element, dispatched one-dimensionally (possibly folded, see `foldDispatch`).
//
// Backward (entry point `backward`), with s = sigmoid(gate):
//   dup   = dout * silu(gate)
//   dgate = dout * up * silu'(gate),  silu'(g) = s + g * s * (1 - s) = s * (1 + g * sigmoid(-g))
// 1 - s is taken as sigmoid(-g), not by subtraction, which would cancel to 0 for large g.
//
// Glossary: R rows (B*T tokens), I intermediate size.

struct Params {
  n: u32,  // R * I, the number of elements
}

override WG: u32 = 64;

// forward's tensors are activations (`act`: f32, or f16 at f16 precision); the math is f32.
@group(0) @binding(0) var<storage, read_write> out: array<act>;  // [R, I]
@group(0) @binding(1) var<storage, read> gate: array<act>;       // [R, I], gate_proj output
@group(0) @binding(2) var<storage, read> up: array<act>;         // [R, I], up_proj output
@group(0) @binding(3) var<uniform> p: Params;

// The logistic function without overflow: exp is only ever taken of -|x| <= 0, so it lies in
// (0, 1] and never becomes inf. The naive 1 / (1 + exp(-x)) overflows exp for x < -88, and x / (1 +
// exp(-x)) then depends on how the backend treats inf (WGSL does not promise IEEE infinities).
fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  let s = 1.0 / (1.0 + e);  // sigmoid(|x|)
  return select(e * s, s, x >= 0.0);  // sigmoid(-|x|) = e / (1 + e) = e * sigmoid(|x|)
}

fn silu(x: f32) -> f32 {
  return x * sigmoid(x);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = linear_invocation_id(wid, nwg, lid, WG);
  // Folding and rounding up to whole workgroups add invocations past the end.
  if (i >= p.n) {
    return;
  }
  out[i] = act(silu(f32(gate[i])) * f32(up[i]));
}

// ------------------------------------------------------------------------------- backward

@group(0) @binding(0) var<storage, read_write> dgate: array<f32>;  // [R, I]
@group(0) @binding(1) var<storage, read_write> dup: array<f32>;    // [R, I]
@group(0) @binding(2) var<storage, read> dout: array<f32>;         // [R, I], gradient of out
@group(0) @binding(3) var<storage, read> bgate: array<f32>;        // [R, I], forward's gate
@group(0) @binding(4) var<storage, read> bup: array<f32>;          // [R, I], forward's up
@group(0) @binding(5) var<uniform> bp: Params;

// silu'(x), finite for every finite x: for x -> -inf, sigmoid(x) underflows to 0 before
// 1 + x * sigmoid(-x) ~ x can grow large (0 * finite = 0); for x -> +inf, x * sigmoid(-x) -> 0 and
// the result tends to 1.
fn silu_grad(x: f32) -> f32 {
  return sigmoid(x) * (1.0 + x * sigmoid(-x));
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = linear_invocation_id(wid, nwg, lid, WG);
  if (i >= bp.n) {
    return;
  }
  let g = bgate[i];
  let d = dout[i];
  dgate[i] = d * bup[i] * silu_grad(g);
  dup[i] = d * silu(g);
}
