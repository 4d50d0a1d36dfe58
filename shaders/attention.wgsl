// Causal grouped-query attention, as Hugging Face's LlamaAttention computes it before o_proj
// (eager_attention_forward: softmax in float32 of scaling * q·k with the causal mask, times v),
// with DroPE's logit scale beta folded into the scaling:
//   logits[t, j] = beta * scale * (q[t] · k[j])  for j <= t,   scale = 1/sqrt(D) unless overridden
//   out[t] = sum_j softmax_j(logits[t, :]) v[j]
//   lse[t] = log(sum_j exp(logits[t, j]))          (forward only, kept for the backward pass)
//
// Glossary: B batch, T sequence length, H query heads, KVH key/value heads (KVH divides H;
// query head h reads kv head h / (H / KVH)), D head dim (HEAD_DIM, a multiple of 4 in 16..128).
// Rows are tokens: row b*T + t; q and out columns are h*D + d, k and v columns are kvh*D + d.
//
// Both entry points work in the base-2 domain: q is pre-multiplied by beta * scale * log2(e), so
// exp(x - m) becomes exp2(x' - m') with no multiply per key; lse converts back with ln(2).
// Softmax runs in f32 with the running max subtracted. Memory is linear in T: neither kernel
// keeps a T x T score buffer.
//
// Tensors are bound as vec4 arrays: D is a multiple of 4, so every row starts on a 16-byte
// boundary, and one vec4 load moves four channels.

struct Params {
  B: u32,
  T: u32,
  H: u32,
  KVH: u32,
  // beta * scale * log2(e): multiplies q·k to give base-2 logits.
  qk_scale: f32,
}

override HEAD_DIM: u32 = 32;        // D
override D4: u32 = HEAD_DIM / 4u;   // vec4s per head row

const LN2: f32 = 0.6931471805599453;

// forward's bindings: two outputs (out, lse), three inputs, the uniforms.
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;  // [B*T, H*D]
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;        // [B, H, T]
@group(0) @binding(2) var<storage, read> q: array<vec4<f32>>;          // [B*T, H*D]
@group(0) @binding(3) var<storage, read> k: array<vec4<f32>>;          // [B*T, KVH*D]
@group(0) @binding(4) var<storage, read> v: array<vec4<f32>>;          // [B*T, KVH*D]
@group(0) @binding(5) var<uniform> p: Params;

// ---------------------------------------------------------------------------------- forward
// One workgroup per (b, h, block of NQ*QB queries). The workgroup walks keys 0..(its last query)
// in tiles of BK: each K/V tile is staged once in workgroup memory and shared by every query of
// the block. Each query keeps a running max m and running sum l (online softmax, Milakov &
// Gimelshein 2018; FlashAttention) and its unnormalized output in registers.
//
// Work distribution, shaped by how SwiftShader (a CPU) runs WGSL: it executes 4 invocations as
// the lanes of one SIMD register, and every load whose index is not a compile-time constant
// becomes a 4-lane gather, including loads from function-local arrays in a loop (loops are not
// unrolled). Measured there: 8 vec4 loads from a private array in a loop cost ~960 cycles per
// SIMD group, the same 8 written out with constant indices ~45, 8 vec4 gathers from workgroup
// memory ~850 (~1700 if the 4 lanes read 4 different addresses), one exp2 ~70. So:
//  - q and the accumulator live in a struct of CH vec4s, touched only with constant member
//    names (registers, no gathers). An invocation owns CH vec4s = 4*CH channels of the head dim;
//    G = D4/CH invocations share a query when D > 32, and their partial dot products meet in
//    workgroup memory.
//  - Neighbouring invocations take neighbouring queries, so the 4 lanes of a SIMD group read the
//    same key at the same time (a gather of one address, the cheapest kind).
//  - Each invocation carries QB queries, so one key or value load serves QB queries.

override CH: u32 = 8;         // vec4s of the head dim per invocation: divides D4, at most 8
override G: u32 = D4 / CH;    // invocations per query (slices of the head dim)
override NQ: u32 = 16;        // invocations per slice
override QB: u32 = 4;         // queries per invocation, 1 to 4: NQ*QB queries per workgroup
override BK: u32 = 32;        // keys per K/V tile
// Workgroup floats for partial dot products, only needed when slices must be summed.
override PARTIALS: u32 = select(1u, G * BK * NQ * QB, G > 1u);

const NEG: f32 = -3.0e38;  // logit of a masked key: exp2(NEG - m) = 0 for any real max m

var<workgroup> k_tile: array<vec4<f32>, BK * D4>;  // [BK, D] keys kt..kt+BK-1 of this kv head
var<workgroup> v_tile: array<vec4<f32>, BK * D4>;  // [BK, D]
var<workgroup> partial: array<f32, PARTIALS>;      // [G, BK, NQ*QB] q·k per slice, when G > 1

// Up to 8 vec4s of a head row: this invocation's slice of q, k, v or the accumulator. Members
// past CH stay zero and every `if (CH > i)` is decided when the pipeline is built.
struct Chans {
  c0: vec4<f32>, c1: vec4<f32>, c2: vec4<f32>, c3: vec4<f32>,
  c4: vec4<f32>, c5: vec4<f32>, c6: vec4<f32>, c7: vec4<f32>,
}

// CH vec4s of k_tile from index `base`.
fn k_chans(base: u32) -> Chans {
  var r: Chans;
  r.c0 = k_tile[base];
  if (CH > 1u) { r.c1 = k_tile[base + 1u]; }
  if (CH > 2u) { r.c2 = k_tile[base + 2u]; }
  if (CH > 3u) { r.c3 = k_tile[base + 3u]; }
  if (CH > 4u) { r.c4 = k_tile[base + 4u]; }
  if (CH > 5u) { r.c5 = k_tile[base + 5u]; }
  if (CH > 6u) { r.c6 = k_tile[base + 6u]; }
  if (CH > 7u) { r.c7 = k_tile[base + 7u]; }
  return r;
}

// CH vec4s of v_tile from index `base`.
fn v_chans(base: u32) -> Chans {
  var r: Chans;
  r.c0 = v_tile[base];
  if (CH > 1u) { r.c1 = v_tile[base + 1u]; }
  if (CH > 2u) { r.c2 = v_tile[base + 2u]; }
  if (CH > 3u) { r.c3 = v_tile[base + 3u]; }
  if (CH > 4u) { r.c4 = v_tile[base + 4u]; }
  if (CH > 5u) { r.c5 = v_tile[base + 5u]; }
  if (CH > 6u) { r.c6 = v_tile[base + 6u]; }
  if (CH > 7u) { r.c7 = v_tile[base + 7u]; }
  return r;
}

// CH vec4s of q from index `base`, times `scale`.
fn q_chans(base: u32, scale: f32) -> Chans {
  var r: Chans;
  r.c0 = q[base] * scale;
  if (CH > 1u) { r.c1 = q[base + 1u] * scale; }
  if (CH > 2u) { r.c2 = q[base + 2u] * scale; }
  if (CH > 3u) { r.c3 = q[base + 3u] * scale; }
  if (CH > 4u) { r.c4 = q[base + 4u] * scale; }
  if (CH > 5u) { r.c5 = q[base + 5u] * scale; }
  if (CH > 6u) { r.c6 = q[base + 6u] * scale; }
  if (CH > 7u) { r.c7 = q[base + 7u] * scale; }
  return r;
}

// Writes a * scale to `out` from index `base`.
fn store_chans(base: u32, a: Chans, scale: f32) {
  out[base] = a.c0 * scale;
  if (CH > 1u) { out[base + 1u] = a.c1 * scale; }
  if (CH > 2u) { out[base + 2u] = a.c2 * scale; }
  if (CH > 3u) { out[base + 3u] = a.c3 * scale; }
  if (CH > 4u) { out[base + 4u] = a.c4 * scale; }
  if (CH > 5u) { out[base + 5u] = a.c5 * scale; }
  if (CH > 6u) { out[base + 6u] = a.c6 * scale; }
  if (CH > 7u) { out[base + 7u] = a.c7 * scale; }
}

fn dot_chans(a: Chans, b: Chans) -> f32 {
  var s = a.c0 * b.c0;
  if (CH > 1u) { s += a.c1 * b.c1; }
  if (CH > 2u) { s += a.c2 * b.c2; }
  if (CH > 3u) { s += a.c3 * b.c3; }
  if (CH > 4u) { s += a.c4 * b.c4; }
  if (CH > 5u) { s += a.c5 * b.c5; }
  if (CH > 6u) { s += a.c6 * b.c6; }
  if (CH > 7u) { s += a.c7 * b.c7; }
  return s.x + s.y + s.z + s.w;
}

// a * x + w * b
fn axpy_chans(a: Chans, x: f32, w: f32, b: Chans) -> Chans {
  var r: Chans;
  r.c0 = a.c0 * x + w * b.c0;
  if (CH > 1u) { r.c1 = a.c1 * x + w * b.c1; }
  if (CH > 2u) { r.c2 = a.c2 * x + w * b.c2; }
  if (CH > 3u) { r.c3 = a.c3 * x + w * b.c3; }
  if (CH > 4u) { r.c4 = a.c4 * x + w * b.c4; }
  if (CH > 5u) { r.c5 = a.c5 * x + w * b.c5; }
  if (CH > 6u) { r.c6 = a.c6 * x + w * b.c6; }
  if (CH > 7u) { r.c7 = a.c7 * x + w * b.c7; }
  return r;
}

// One query's online-softmax state: running max, running sum, unnormalized output slice.
struct Running {
  m: f32,
  l: f32,
  acc: Chans,
}

// Folds one key (base-2 logit s, value slice vc) into the running state.
fn online_update(r: Running, s: f32, vc: Chans) -> Running {
  let m_new = max(r.m, s);
  let correction = exp2(r.m - m_new);
  let w = exp2(s - m_new);
  return Running(m_new, r.l * correction + w, axpy_chans(r.acc, correction, w, vc));
}

// Query t's slice of q (times the logit scale), zeros past the end of the sequence.
fn load_query(t: u32, row0: u32, q_stride: u32, slice: u32) -> Chans {
  var r: Chans;
  if (t < p.T) {
    r = q_chans((row0 + t) * q_stride + slice, p.qk_scale);
  }
  return r;
}

// Causal mask: key `key` is visible to query `t` only when key <= t.
fn masked(s: f32, key: u32, t: u32) -> f32 {
  return select(s, NEG, key > t);
}

// Writes query t's normalized output slice, and (slice 0) its log-sum-exp in natural log.
fn finish(r: Running, t: u32, row0: u32, q_stride: u32, slice: u32, bh: u32, c: u32) {
  if (t < p.T) {
    store_chans((row0 + t) * q_stride + slice, r.acc, 1.0 / r.l);
    if (c == 0u) {
      lse[bh * p.T + t] = (r.m + log2(r.l)) * LN2;
    }
  }
}

@compute @workgroup_size(NQ * G)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let BQ = NQ * QB;  // queries per workgroup
  let blocks = (p.T + BQ - 1u) / BQ;
  let group = linear_workgroup_id(wid, nwg);
  if (group >= p.B * p.H * blocks) {
    return;  // a spare workgroup from dispatch folding (uniform: the whole workgroup leaves)
  }
  let block = group % blocks;
  let bh = group / blocks;
  let h = bh % p.H;
  let b = bh / p.H;
  let kvh = h / (p.H / p.KVH);
  let c = lid / NQ;     // head-dim slice: channels 4*CH*c ..
  let lane = lid % NQ;  // this invocation's queries: t0 .. t0 + QB - 1
  let t0 = block * BQ + lane * QB;
  let t_hi = min(t0 + QB - 1u, p.T - 1u);       // the last query this invocation serves
  let t_last = min(block * BQ + BQ, p.T) - 1u;  // the workgroup's last query bounds its keys

  let q_stride = p.H * D4;     // vec4s per q/out row
  let kv_stride = p.KVH * D4;  // vec4s per k/v row
  let row0 = b * p.T;          // first row of this sequence
  let slice = h * D4 + c * CH;

  // Queries t0 + 0..3 (those past QB are never touched), and their online-softmax states;
  // m starts finite, so exp2(m - m') never sees inf - inf.
  let q0 = load_query(t0, row0, q_stride, slice);
  var q1: Chans;
  var q2: Chans;
  var q3: Chans;
  if (QB > 1u) { q1 = load_query(t0 + 1u, row0, q_stride, slice); }
  if (QB > 2u) { q2 = load_query(t0 + 2u, row0, q_stride, slice); }
  if (QB > 3u) { q3 = load_query(t0 + 3u, row0, q_stride, slice); }
  var r0 = Running(NEG, 0.0, Chans());
  var r1 = r0;
  var r2 = r0;
  var r3 = r0;

  for (var kt = 0u; kt <= t_last; kt += BK) {
    // Stage keys kt..kt+BK-1 (zeros past the end; the causal bound never reads them).
    for (var i = lid; i < BK * D4; i += NQ * G) {
      let j = kt + i / D4;
      var kv = vec4<f32>(0.0);
      var vv = vec4<f32>(0.0);
      if (j < p.T) {
        let src = (row0 + j) * kv_stride + kvh * D4 + i % D4;
        kv = k[src];
        vv = v[src];
      }
      k_tile[i] = kv;
      v_tile[i] = vv;
    }
    workgroupBarrier();

    // Causal: this invocation's last query sees keys kt..t_hi of the tile; its earlier queries
    // see fewer, and their logits past the diagonal are masked to NEG. Lanes of one SIMD group
    // serve neighbouring queries, so their loop counts differ only near the diagonal.
    var n = 0u;
    if (t0 < p.T && kt <= t_hi) {
      n = min(BK, t_hi + 1u - kt);
    }
    if (G == 1u) {
      for (var j = 0u; j < n; j++) {
        let key = kt + j;
        let kc = k_chans(j * D4);
        let vc = v_chans(j * D4);
        r0 = online_update(r0, masked(dot_chans(q0, kc), key, t0), vc);
        if (QB > 1u) { r1 = online_update(r1, masked(dot_chans(q1, kc), key, t0 + 1u), vc); }
        if (QB > 2u) { r2 = online_update(r2, masked(dot_chans(q2, kc), key, t0 + 2u), vc); }
        if (QB > 3u) { r3 = online_update(r3, masked(dot_chans(q3, kc), key, t0 + 3u), vc); }
      }
    } else {
      // Partial dot products of this slice, then every slice sums all G of them.
      for (var j = 0u; j < n; j++) {
        let kc = k_chans(j * D4 + c * CH);
        let at = ((c * BK + j) * NQ + lane) * QB;
        partial[at] = dot_chans(q0, kc);
        if (QB > 1u) { partial[at + 1u] = dot_chans(q1, kc); }
        if (QB > 2u) { partial[at + 2u] = dot_chans(q2, kc); }
        if (QB > 3u) { partial[at + 3u] = dot_chans(q3, kc); }
      }
      workgroupBarrier();
      for (var j = 0u; j < n; j++) {
        let key = kt + j;
        var s = vec4<f32>(0.0);  // the logits of queries t0 + 0..3
        for (var g = 0u; g < G; g++) {
          let at = ((g * BK + j) * NQ + lane) * QB;
          s.x += partial[at];
          if (QB > 1u) { s.y += partial[at + 1u]; }
          if (QB > 2u) { s.z += partial[at + 2u]; }
          if (QB > 3u) { s.w += partial[at + 3u]; }
        }
        let vc = v_chans(j * D4 + c * CH);
        r0 = online_update(r0, masked(s.x, key, t0), vc);
        if (QB > 1u) { r1 = online_update(r1, masked(s.y, key, t0 + 1u), vc); }
        if (QB > 2u) { r2 = online_update(r2, masked(s.z, key, t0 + 2u), vc); }
        if (QB > 3u) { r3 = online_update(r3, masked(s.w, key, t0 + 3u), vc); }
      }
    }
    workgroupBarrier();
  }

  finish(r0, t0, row0, q_stride, slice, bh, c);
  if (QB > 1u) { finish(r1, t0 + 1u, row0, q_stride, slice, bh, c); }
  if (QB > 2u) { finish(r2, t0 + 2u, row0, q_stride, slice, bh, c); }
  if (QB > 3u) { finish(r3, t0 + 3u, row0, q_stride, slice, bh, c); }
}

// ------------------------------------------------------------------------------------ naive
// The straightforward kernel, the baseline `forward` is measured against: one invocation per
// (b, h, t), keys and values read straight from global memory, no tiling, no sharing, q and the
// accumulator in private arrays. Two passes over the keys: the first finds the max logit, the
// second sums exp and accumulates v. It has one output (no lse), so its bindings are numbered
// apart from forward's; WGSL allows entry points to reuse binding numbers for other variables.

override WG: u32 = 64;  // invocations per workgroup
// Private arrays need a constant size: room for the largest head dim, D = 128.
const MAX_D4: u32 = 32u;

@group(0) @binding(0) var<storage, read_write> naive_out: array<vec4<f32>>;  // [B*T, H*D]
@group(0) @binding(1) var<storage, read> naive_q: array<vec4<f32>>;          // [B*T, H*D]
@group(0) @binding(2) var<storage, read> naive_k: array<vec4<f32>>;          // [B*T, KVH*D]
@group(0) @binding(3) var<storage, read> naive_v: array<vec4<f32>>;          // [B*T, KVH*D]
@group(0) @binding(4) var<uniform> naive_p: Params;

@compute @workgroup_size(WG)
fn naive(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let index = linear_workgroup_id(wid, nwg) * WG + lid;  // ((b * H) + h) * T + t
  if (index >= naive_p.B * naive_p.H * naive_p.T) {
    return;
  }
  let t = index % naive_p.T;
  let bh = index / naive_p.T;
  let h = bh % naive_p.H;
  let b = bh / naive_p.H;
  let kvh = h / (naive_p.H / naive_p.KVH);
  let q_stride = naive_p.H * D4;
  let kv_stride = naive_p.KVH * D4;
  let row0 = b * naive_p.T;
  let q_base = (row0 + t) * q_stride + h * D4;

  var qr: array<vec4<f32>, MAX_D4>;
  for (var i = 0u; i < D4; i++) {
    qr[i] = naive_q[q_base + i] * naive_p.qk_scale;
  }

  var m = -3.0e38;
  for (var j = 0u; j <= t; j++) {
    let kb = (row0 + j) * kv_stride + kvh * D4;
    var dot4 = vec4<f32>(0.0);
    for (var i = 0u; i < D4; i++) {
      dot4 += qr[i] * naive_k[kb + i];
    }
    m = max(m, dot4.x + dot4.y + dot4.z + dot4.w);
  }

  var acc: array<vec4<f32>, MAX_D4>;
  for (var i = 0u; i < D4; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  var l = 0.0;
  for (var j = 0u; j <= t; j++) {
    let kb = (row0 + j) * kv_stride + kvh * D4;
    var dot4 = vec4<f32>(0.0);
    for (var i = 0u; i < D4; i++) {
      dot4 += qr[i] * naive_k[kb + i];
    }
    let w = exp2(dot4.x + dot4.y + dot4.z + dot4.w - m);
    l += w;
    for (var i = 0u; i < D4; i++) {
      acc[i] += w * naive_v[kb + i];
    }
  }

  let inv = 1.0 / l;
  for (var i = 0u; i < D4; i++) {
    naive_out[q_base + i] = acc[i] * inv;
  }
}
