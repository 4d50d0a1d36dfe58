// Rotary position embedding (RoPE), in place, as Hugging Face's apply_rotary_pos_emb computes it
// (transformers models/llama/modeling_llama.py):  y = x * cos + rotate_half(x) * sin.
//
// Layout: HF's rotate_half, NOT interleaved pairs. Within a head, dim i pairs with dim i + D/2
// (i < D/2), and both use angle i (HF's cos/sin are cat(freqs, freqs), so one D/2 table serves both):
//   y[i]       = x[i]       * cos[i] - x[i + D/2] * sin[i]
//   y[i + D/2] = x[i + D/2] * cos[i] + x[i]       * sin[i]
//
// One rotation body. Backward is the same rotation with the angle negated (sin -> -sin), picked by
// the SIGN override: the gradient of y = R(θ)x is dx = R(θ)ᵀ dy = R(-θ) dy. The tables carry HF's
// attention scaling s (YaRN's factor), so backward∘forward = s²·identity: the identity when s = 1.
// `forward` and `backward` are the same body; two entry points only so errors name the direction.
//
// One invocation per rotated pair (row, head, i); rows are independent, so x is updated in place.
//
// Glossary: R rows (B*T), T sequence length, NH heads in x (query heads H or key/value heads KVH),
// D head dim, P table rows (at least offset + T). Row r sits at position offset + r % T.

struct Params {
  pairs: u32,   // R * NH * D/2
  T: u32,
  heads: u32,   // NH
  offset: u32,  // position of row 0 (tokens already in a cache)
}

override WG: u32 = 64;
override HALF: u32 = 32;    // D/2
override SIGN: f32 = 1.0;   // +1 forward (angle θ), -1 backward (angle -θ)

// x is an activation (`act`: f32, or f16 at f16 precision); the rotation is computed in f32.
@group(0) @binding(0) var<storage, read_write> x: array<act>;  // [R, NH*D], rotated in place
@group(0) @binding(1) var<storage, read> cos_table: array<f32>; // [P, D/2]
@group(0) @binding(2) var<storage, read> sin_table: array<f32>; // [P, D/2]
@group(0) @binding(3) var<uniform> p: Params;

fn rotate(pair: u32) {
  if (pair >= p.pairs) {
    return;
  }
  let i = pair % HALF;
  let head_row = pair / HALF;             // r * NH + h: heads are contiguous within a row
  let pos = p.offset + (head_row / p.heads) % p.T;
  let lo = head_row * (2u * HALF) + i;    // dim i of this head
  let hi = lo + HALF;                     // dim i + D/2
  let c = cos_table[pos * HALF + i];
  let s = SIGN * sin_table[pos * HALF + i];
  let x1 = f32(x[lo]);
  let x2 = f32(x[hi]);
  x[lo] = act(x1 * c - x2 * s);
  x[hi] = act(x2 * c + x1 * s);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  rotate(linear_invocation_id(wid, nwg, lid, WG));
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  rotate(linear_invocation_id(wid, nwg, lid, WG));
}
