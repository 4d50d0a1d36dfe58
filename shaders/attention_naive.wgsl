// The straightforward attention kernel, the baseline attention.wgsl's `forward` is measured
// against (same math, same Params and visibility rule from attention_params.wgsl, no lse): one
// invocation per (b, h, t), keys and values read straight from global memory, no tiling, no
// sharing, q and the accumulator in private arrays. Two passes over the visible keys: the first
// finds the max logit, the second sums exp and accumulates v. f32 only.

override WG: u32 = 64;  // invocations per workgroup
// Private arrays need a constant size: room for the largest head dim, D = 128.
const MAX_D4: u32 = 32u;

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;  // [B*T, H*D]
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;          // [B*T, H*D]
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;          // [B*T, KVH*D]
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;          // [B*T, KVH*D]
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn naive(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
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
  let q_stride = p.H * D4;
  let kv_stride = p.KVH * D4;
  let row0 = b * p.T;
  let q_base = (row0 + t) * q_stride + h * D4;
  let first = first_visible_key(t, p.window);

  var qr: array<vec4<f32>, MAX_D4>;
  for (var i = 0u; i < D4; i++) {
    qr[i] = q[q_base + i] * p.qk_scale;
  }

  var m = NEG;
  for (var j = first; j <= t; j++) {
    let kb = (row0 + j) * kv_stride + kvh * D4;
    var dot4 = vec4<f32>(0.0);
    for (var i = 0u; i < D4; i++) {
      dot4 += qr[i] * k[kb + i];
    }
    m = max(m, dot4.x + dot4.y + dot4.z + dot4.w);
  }

  var acc: array<vec4<f32>, MAX_D4>;
  for (var i = 0u; i < D4; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  var l = 0.0;
  for (var j = first; j <= t; j++) {
    let kb = (row0 + j) * kv_stride + kvh * D4;
    var dot4 = vec4<f32>(0.0);
    for (var i = 0u; i < D4; i++) {
      dot4 += qr[i] * k[kb + i];
    }
    let w = exp2(dot4.x + dot4.y + dot4.z + dot4.w - m);
    l += w;
    for (var i = 0u; i < D4; i++) {
      acc[i] += w * v[kb + i];
    }
  }

  let inv = 1.0 / l;
  for (var i = 0u; i < D4; i++) {
    out[q_base + i] = acc[i] * inv;
  }
}
