// The attention pattern itself, for the playground's heatmap (which keys each query reads):
//   P[b, h, t, j] = softmax_j(beta * scale * q[t]·k[j]) for the keys t sees, 0 for the others
// with attention.wgsl's logits (same Params, qk_scale, base-2 domain, GQA mapping and visibility
// rule from attention_params.wgsl), so each row is what forward's weights over v were. forward
// never stores P (memory linear in T); this kernel writes it, [B, H, T, T], so it is meant for
// short sequences (the heatmap shows a few dozen tokens).
// One invocation per (b, h, t), ((b * H) + h) * T + t. The invocation owns its output row and
// uses it as scratch: pass 1 writes the base-2 logits and finds their max, pass 2 turns them into
// exp2(s - max) and sums them, pass 3 divides by the sum and zeroes the keys it does not see.
// Each dot product is computed once.

override WG: u32 = 64;  // invocations per workgroup
// Private arrays need a constant size: room for the largest head dim, D = 128.
const MAX_D4: u32 = 32u;

@group(0) @binding(0) var<storage, read_write> probs: array<f32>;  // [B, H, T, T]
@group(0) @binding(1) var<storage, read> q: array<vec4<act>>;      // [B*T, H*D]
@group(0) @binding(2) var<storage, read> k: array<vec4<act>>;      // [B*T, KVH*D]
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn probabilities(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let index = linear_invocation_id(wid, nwg, lid, WG);  // ((b * H) + h) * T + t
  if (index >= p.B * p.H * p.T) {
    return;
  }
  let t = index % p.T;
  let bh = index / p.T;
  let h = bh % p.H;
  let b = bh / p.H;
  let kvh = h / (p.H / p.KVH);
  let kv_stride = p.KVH * D4;
  let row0 = b * p.T;
  let q_base = (row0 + t) * p.H * D4 + h * D4;
  let out_base = index * p.T;  // row t of head (b, h): [B, H, T, T] is row-major in (b, h, t)
  let first = first_visible_key(t, p.window);

  var qr: array<vec4<f32>, MAX_D4>;
  for (var i = 0u; i < D4; i++) {
    qr[i] = vec4<f32>(q[q_base + i]) * p.qk_scale;
  }

  // Pass 1: base-2 logits of the visible keys, and their max.
  var m = NEG;
  for (var j = first; j <= t; j++) {
    let kb = (row0 + j) * kv_stride + kvh * D4;
    var dot4 = vec4<f32>(0.0);
    for (var i = 0u; i < D4; i++) {
      dot4 += qr[i] * vec4<f32>(k[kb + i]);
    }
    let s = dot4.x + dot4.y + dot4.z + dot4.w;
    probs[out_base + j] = s;
    m = max(m, s);
  }
  // Pass 2: unnormalized weights (the max subtracted, so exp2 stays finite) and their sum.
  var l = 0.0;
  for (var j = first; j <= t; j++) {
    let w = exp2(probs[out_base + j] - m);
    probs[out_base + j] = w;
    l += w;
  }
  // Pass 3: normalize; the keys t does not see get exactly 0. l >= 1 (the max key contributes exp2(0)).
  let inv = 1.0 / l;
  for (var j = 0u; j < p.T; j++) {
    probs[out_base + j] = select(0.0, probs[out_base + j] * inv, key_visible(j, t, p.window));
  }
}
