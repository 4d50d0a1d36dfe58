// Causal grouped-query attention, as Hugging Face's LlamaAttention computes it before o_proj
// (eager_attention_forward: softmax in float32 of scaling * q·k with the causal mask, times v),
// with DroPE's logit scale beta folded into the scaling:
//   logits[t, j] = beta * scale * (q[t] · k[j])  for j <= t,   scale = 1/sqrt(D) unless overridden
//   out[t] = sum_j softmax_j(logits[t, :]) v[j]
//   lse[t] = log(sum_j exp(logits[t, j]))          (forward only, kept for the backward pass)
// and its gradients (entry points backward_delta, backward_dq, backward_dkv; formulas there).
//
// Glossary: B batch, T sequence length, H query heads, KVH key/value heads (KVH divides H;
// query head h reads kv head h / (H / KVH)), D head dim (HEAD_DIM, a multiple of 4 in 16..128).
// Rows are tokens: row b*T + t; q and out columns are h*D + d, k and v columns are kvh*D + d.
//
// All entry points work in the base-2 domain: q (k in backward_dkv) is pre-multiplied by
// beta * scale * log2(e), so exp(x - m) becomes exp2(x' - m') with no multiply per key; lse
// converts back with ln(2).
// Softmax runs in f32 with the running max subtracted. Memory is linear in T: no kernel keeps a
// T x T score buffer.
//
// Tensors are bound as vec4 arrays: D is a multiple of 4, so every row starts on a 16-byte
// boundary, and one vec4 load moves four channels. q, k, v and out of forward and probabilities
// are activations (`act`: f32, or f16 at f16 precision, converted to f32 as they are loaded);
// the gradients and lse stay f32. The backward passes read q, k, v through the same bindings.

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
@group(0) @binding(0) var<storage, read_write> out: array<vec4<act>>;  // [B*T, H*D]
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;        // [B, H, T]
@group(0) @binding(2) var<storage, read> q: array<vec4<act>>;          // [B*T, H*D]
@group(0) @binding(3) var<storage, read> k: array<vec4<act>>;          // [B*T, KVH*D]
@group(0) @binding(4) var<storage, read> v: array<vec4<act>>;          // [B*T, KVH*D]
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

// Copies keys and values kt..kt+BK-1 of kv head kvh (rows row0 + j of a sequence of T) into
// k_tile and v_tile, zeros past T (the causal bound never reads them); the workgroup's NQ*G
// invocations share the copy. forward and backward_dq stage the same tiles.
fn stage_kv_tile(lid: u32, kt: u32, T: u32, row0: u32, kv_stride: u32, kvh: u32) {
  for (var i = lid; i < BK * D4; i += NQ * G) {
    let j = kt + i / D4;
    var kv = vec4<f32>(0.0);
    var vv = vec4<f32>(0.0);
    if (j < T) {
      let src = (row0 + j) * kv_stride + kvh * D4 + i % D4;
      kv = vec4<f32>(k[src]);
      vv = vec4<f32>(v[src]);
    }
    k_tile[i] = kv;
    v_tile[i] = vv;
  }
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
  r.c0 = vec4<f32>(q[base]) * scale;
  if (CH > 1u) { r.c1 = vec4<f32>(q[base + 1u]) * scale; }
  if (CH > 2u) { r.c2 = vec4<f32>(q[base + 2u]) * scale; }
  if (CH > 3u) { r.c3 = vec4<f32>(q[base + 3u]) * scale; }
  if (CH > 4u) { r.c4 = vec4<f32>(q[base + 4u]) * scale; }
  if (CH > 5u) { r.c5 = vec4<f32>(q[base + 5u]) * scale; }
  if (CH > 6u) { r.c6 = vec4<f32>(q[base + 6u]) * scale; }
  if (CH > 7u) { r.c7 = vec4<f32>(q[base + 7u]) * scale; }
  return r;
}

// Writes a * scale to `out` from index `base`.
fn store_chans(base: u32, a: Chans, scale: f32) {
  out[base] = vec4<act>(a.c0 * scale);
  if (CH > 1u) { out[base + 1u] = vec4<act>(a.c1 * scale); }
  if (CH > 2u) { out[base + 2u] = vec4<act>(a.c2 * scale); }
  if (CH > 3u) { out[base + 3u] = vec4<act>(a.c3 * scale); }
  if (CH > 4u) { out[base + 4u] = vec4<act>(a.c4 * scale); }
  if (CH > 5u) { out[base + 5u] = vec4<act>(a.c5 * scale); }
  if (CH > 6u) { out[base + 6u] = vec4<act>(a.c6 * scale); }
  if (CH > 7u) { out[base + 7u] = vec4<act>(a.c7 * scale); }
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
    stage_kv_tile(lid, kt, p.T, row0, kv_stride, kvh);
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

// --------------------------------------------------------------------------------- backward
// The gradients of forward, FlashAttention-2's backward (Dao 2023, Algorithm 2) split into three
// passes so that every gradient value has exactly one writer: deterministic, with no atomics
// (WGSL has no float atomics). With L[t, j] = beta * scale * q[t]·k[j] the natural logits,
// P = exp(L - lse) the softmax recomputed from forward's lse, and dO the gradient of out:
//   delta[t] = dO[t]·out[t]                 (= sum_j P[t, j] dP[t, j]: softmax's Jacobian term)
//   dP[t, j] = dO[t]·v[j]
//   dS[t, j] = P[t, j] (dP[t, j] - delta[t])  (the gradient of the logit L[t, j])
//   dq[t]    = beta * scale * sum_{j <= t} dS[t, j] k[j]
//   dk[j]    = beta * scale * sum over the kv head's query heads, and t >= j, of dS[t, j] q[t]
//   dv[j]    = sum over the kv head's query heads, and t >= j, of P[t, j] dO[t]
// backward_delta computes delta, one invocation per (b, h, t). backward_dq is forward's loop with
// forward's tiles (queries in registers, K/V tiles staged in workgroup memory). backward_dkv is
// its transpose (keys in registers, tiles of queries, dO, lse and delta staged) and walks the
// kv head's query heads one after another, so GQA's sum over heads is a plain loop in a fixed
// order. As in forward, P and dS are recomputed per (query, key) in base 2 and never stored:
// memory stays linear in T. The tile constants (CH, G, NQ, QB, BK) mean what they mean in
// forward, with "rows" (NQ * QB per workgroup) being queries in backward_dq and keys in
// backward_dkv, and the BK-row tile being keys in backward_dq and queries in backward_dkv.
//
// Bindings: backward_dq and backward_dkv bind q, k and v at forward's bindings 2..4 and read
// them through forward's `q`, `k`, `v` (and its q_chans), so the loaders are shared; every other
// binding is declared per entry point with its prefix.

const LOG2E: f32 = 1.4426950408889634;

// (q·k, dO·v) partial dot products of one slice, when G > 1 slices share a row.
var<workgroup> pair_partial: array<vec2<f32>, PARTIALS>;  // [G, BK, NQ*QB]

// Sum over slices g of pair_partial for BK-tile row j and register row `row` (lane * QB + i).
fn pair_sum(j: u32, row: u32) -> vec2<f32> {
  var s = vec2<f32>(0.0);
  for (var g = 0u; g < G; g++) {
    s += pair_partial[(g * BK + j) * NQ * QB + row];
  }
  return s;
}

// dS = P (dP - delta), with P = exp2(s - lse2) for a visible (query, key) pair and 0 otherwise;
// select, not a multiply, so an exp2 overflow on a masked pair cannot leak into the sum.
fn grad_logit(s: f32, dp: f32, lse2: f32, delta: f32, visible: bool) -> vec2<f32> {
  let pr = select(0.0, exp2(s - lse2), visible);
  return vec2<f32>(pr * (dp - delta), pr);  // (dS, P)
}

// ---------------------------------------------------------------------------- backward_delta
// One invocation per (b, h, t), ((b * H) + h) * T + t like naive, with naive's WG.

@group(0) @binding(0) var<storage, read_write> bd_delta: array<f32>;  // [B, H, T]
@group(0) @binding(1) var<storage, read> bd_dout: array<vec4<f32>>;   // [B*T, H*D]
@group(0) @binding(2) var<storage, read> bd_out: array<vec4<f32>>;    // [B*T, H*D] saved by forward
@group(0) @binding(3) var<uniform> bd_p: Params;

@compute @workgroup_size(WG)
fn backward_delta(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let index = linear_invocation_id(wid, nwg, lid, WG);
  if (index >= bd_p.B * bd_p.H * bd_p.T) {
    return;
  }
  let t = index % bd_p.T;
  let bh = index / bd_p.T;
  let h = bh % bd_p.H;
  let b = bh / bd_p.H;
  let base = (b * bd_p.T + t) * bd_p.H * D4 + h * D4;
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < D4; i++) {
    s += bd_dout[base + i] * bd_out[base + i];
  }
  bd_delta[index] = s.x + s.y + s.z + s.w;
}

// ------------------------------------------------------------------------------- backward_dq
// One workgroup per (b, h, block of NQ*QB queries), forward's layout: the same K/V tiles in
// k_tile/v_tile, the same split of the head dim into G slices. Per query: its q (times qk_scale),
// dO, lse and delta stay in registers; per visible key it accumulates dS * k.

@group(0) @binding(0) var<storage, read_write> bq_dq: array<vec4<f32>>;  // [B*T, H*D]
@group(0) @binding(1) var<storage, read> bq_dout: array<vec4<f32>>;      // [B*T, H*D]
// bindings 2, 3, 4: q [B*T, H*D], k and v [B*T, KVH*D], declared with forward.
@group(0) @binding(5) var<storage, read> bq_lse: array<f32>;             // [B, H, T] saved by forward
@group(0) @binding(6) var<storage, read> bq_delta: array<f32>;           // [B, H, T] from backward_delta
@group(0) @binding(7) var<uniform> bq_p: Params;

// One query's state in backward_dq. All zero for a query past T, which then adds nothing.
struct DqRow {
  q: Chans,     // q slice times qk_scale: q·k is the base-2 logit
  o: Chans,     // dO slice
  lse2: f32,    // lse in base 2
  delta: f32,
  acc: Chans,   // sum_j dS[t, j] k[j], this slice
}

fn bq_row(t: u32, row0: u32, q_stride: u32, slice: u32, bh: u32) -> DqRow {
  var r: DqRow;
  if (t < bq_p.T) {
    let base = (row0 + t) * q_stride + slice;
    r.q = q_chans(base, bq_p.qk_scale);
    r.o.c0 = bq_dout[base];
    if (CH > 1u) { r.o.c1 = bq_dout[base + 1u]; }
    if (CH > 2u) { r.o.c2 = bq_dout[base + 2u]; }
    if (CH > 3u) { r.o.c3 = bq_dout[base + 3u]; }
    if (CH > 4u) { r.o.c4 = bq_dout[base + 4u]; }
    if (CH > 5u) { r.o.c5 = bq_dout[base + 5u]; }
    if (CH > 6u) { r.o.c6 = bq_dout[base + 6u]; }
    if (CH > 7u) { r.o.c7 = bq_dout[base + 7u]; }
    r.lse2 = bq_lse[bh * bq_p.T + t] * LOG2E;
    r.delta = bq_delta[bh * bq_p.T + t];
  }
  return r;
}

// Writes query t's dq slice: acc times beta * scale (qk_scale is beta * scale * log2(e)).
fn bq_finish(r: DqRow, t: u32, row0: u32, q_stride: u32, slice: u32) {
  if (t < bq_p.T) {
    let base = (row0 + t) * q_stride + slice;
    let a = r.acc;
    let f = bq_p.qk_scale * LN2;
    bq_dq[base] = a.c0 * f;
    if (CH > 1u) { bq_dq[base + 1u] = a.c1 * f; }
    if (CH > 2u) { bq_dq[base + 2u] = a.c2 * f; }
    if (CH > 3u) { bq_dq[base + 3u] = a.c3 * f; }
    if (CH > 4u) { bq_dq[base + 4u] = a.c4 * f; }
    if (CH > 5u) { bq_dq[base + 5u] = a.c5 * f; }
    if (CH > 6u) { bq_dq[base + 6u] = a.c6 * f; }
    if (CH > 7u) { bq_dq[base + 7u] = a.c7 * f; }
  }
}

// Adds key `key` (its slice kc, base-2 logit s, dP = dp) to query t's accumulator.
fn bq_update(r: DqRow, s: f32, dp: f32, kc: Chans, key: u32, t: u32) -> Chans {
  let ds = grad_logit(s, dp, r.lse2, r.delta, key <= t).x;
  return axpy_chans(r.acc, 1.0, ds, kc);
}

@compute @workgroup_size(NQ * G)
fn backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let BQ = NQ * QB;
  let blocks = (bq_p.T + BQ - 1u) / BQ;
  let group = linear_workgroup_id(wid, nwg);
  if (group >= bq_p.B * bq_p.H * blocks) {
    return;  // a spare workgroup from dispatch folding (uniform)
  }
  let block = group % blocks;
  let bh = group / blocks;
  let h = bh % bq_p.H;
  let b = bh / bq_p.H;
  let kvh = h / (bq_p.H / bq_p.KVH);
  let c = lid / NQ;
  let lane = lid % NQ;
  let t0 = block * BQ + lane * QB;
  let t_hi = min(t0 + QB - 1u, bq_p.T - 1u);
  let t_last = min(block * BQ + BQ, bq_p.T) - 1u;

  let q_stride = bq_p.H * D4;
  let kv_stride = bq_p.KVH * D4;
  let row0 = b * bq_p.T;
  let slice = h * D4 + c * CH;

  var r0 = bq_row(t0, row0, q_stride, slice, bh);
  var r1: DqRow;
  var r2: DqRow;
  var r3: DqRow;
  if (QB > 1u) { r1 = bq_row(t0 + 1u, row0, q_stride, slice, bh); }
  if (QB > 2u) { r2 = bq_row(t0 + 2u, row0, q_stride, slice, bh); }
  if (QB > 3u) { r3 = bq_row(t0 + 3u, row0, q_stride, slice, bh); }

  for (var kt = 0u; kt <= t_last; kt += BK) {
    stage_kv_tile(lid, kt, bq_p.T, row0, kv_stride, kvh);
    workgroupBarrier();

    var n = 0u;
    if (t0 < bq_p.T && kt <= t_hi) {
      n = min(BK, t_hi + 1u - kt);
    }
    if (G == 1u) {
      for (var j = 0u; j < n; j++) {
        let key = kt + j;
        let kc = k_chans(j * D4);
        let vc = v_chans(j * D4);
        r0.acc = bq_update(r0, dot_chans(r0.q, kc), dot_chans(r0.o, vc), kc, key, t0);
        if (QB > 1u) { r1.acc = bq_update(r1, dot_chans(r1.q, kc), dot_chans(r1.o, vc), kc, key, t0 + 1u); }
        if (QB > 2u) { r2.acc = bq_update(r2, dot_chans(r2.q, kc), dot_chans(r2.o, vc), kc, key, t0 + 2u); }
        if (QB > 3u) { r3.acc = bq_update(r3, dot_chans(r3.q, kc), dot_chans(r3.o, vc), kc, key, t0 + 3u); }
      }
    } else {
      // This slice's partial (q·k, dO·v), then every slice sums all G of them.
      for (var j = 0u; j < n; j++) {
        let kc = k_chans(j * D4 + c * CH);
        let vc = v_chans(j * D4 + c * CH);
        let at = (c * BK + j) * NQ * QB + lane * QB;
        pair_partial[at] = vec2<f32>(dot_chans(r0.q, kc), dot_chans(r0.o, vc));
        if (QB > 1u) { pair_partial[at + 1u] = vec2<f32>(dot_chans(r1.q, kc), dot_chans(r1.o, vc)); }
        if (QB > 2u) { pair_partial[at + 2u] = vec2<f32>(dot_chans(r2.q, kc), dot_chans(r2.o, vc)); }
        if (QB > 3u) { pair_partial[at + 3u] = vec2<f32>(dot_chans(r3.q, kc), dot_chans(r3.o, vc)); }
      }
      workgroupBarrier();
      for (var j = 0u; j < n; j++) {
        let key = kt + j;
        let kc = k_chans(j * D4 + c * CH);
        let s0 = pair_sum(j, lane * QB);
        r0.acc = bq_update(r0, s0.x, s0.y, kc, key, t0);
        if (QB > 1u) { let s1 = pair_sum(j, lane * QB + 1u); r1.acc = bq_update(r1, s1.x, s1.y, kc, key, t0 + 1u); }
        if (QB > 2u) { let s2 = pair_sum(j, lane * QB + 2u); r2.acc = bq_update(r2, s2.x, s2.y, kc, key, t0 + 2u); }
        if (QB > 3u) { let s3 = pair_sum(j, lane * QB + 3u); r3.acc = bq_update(r3, s3.x, s3.y, kc, key, t0 + 3u); }
      }
    }
    workgroupBarrier();
  }

  bq_finish(r0, t0, row0, q_stride, slice);
  if (QB > 1u) { bq_finish(r1, t0 + 1u, row0, q_stride, slice); }
  if (QB > 2u) { bq_finish(r2, t0 + 2u, row0, q_stride, slice); }
  if (QB > 3u) { bq_finish(r3, t0 + 3u, row0, q_stride, slice); }
}

// ------------------------------------------------------------------------------ backward_dkv
// One workgroup per (b, kv head, block of NQ*QB keys). For each query head h of the kv head's
// group in turn, and each tile of BK queries from the block's first key to T - 1 (earlier queries
// see none of the block's keys), the workgroup stages the queries' q and dO rows and their lse and
// delta; each invocation adds every visible (query, key) pair to its keys' dk and dv, which live
// in registers. Neighbouring invocations take neighbouring keys, so a SIMD group's lanes read the
// same staged query at the same time, as in forward.

@group(0) @binding(0) var<storage, read_write> bkv_dk: array<vec4<f32>>;  // [B*T, KVH*D]
@group(0) @binding(1) var<storage, read_write> bkv_dv: array<vec4<f32>>;  // [B*T, KVH*D]
// bindings 2, 3, 4: q [B*T, H*D], k and v [B*T, KVH*D], declared with forward.
@group(0) @binding(5) var<storage, read> bkv_dout: array<vec4<f32>>;      // [B*T, H*D]
@group(0) @binding(6) var<storage, read> bkv_lse: array<f32>;             // [B, H, T] saved by forward
@group(0) @binding(7) var<storage, read> bkv_delta: array<f32>;           // [B, H, T] from backward_delta
@group(0) @binding(8) var<uniform> bkv_p: Params;

var<workgroup> q_tile: array<vec4<f32>, BK * D4>;  // [BK, D] queries tq..tq+BK-1 of head h
var<workgroup> o_tile: array<vec4<f32>, BK * D4>;  // [BK, D] their dO
var<workgroup> lse_tile: array<f32, BK>;           // [BK] their lse, in base 2
var<workgroup> delta_tile: array<f32, BK>;         // [BK] their delta

// CH vec4s of q_tile from index `base`.
fn q_tile_chans(base: u32) -> Chans {
  var r: Chans;
  r.c0 = q_tile[base];
  if (CH > 1u) { r.c1 = q_tile[base + 1u]; }
  if (CH > 2u) { r.c2 = q_tile[base + 2u]; }
  if (CH > 3u) { r.c3 = q_tile[base + 3u]; }
  if (CH > 4u) { r.c4 = q_tile[base + 4u]; }
  if (CH > 5u) { r.c5 = q_tile[base + 5u]; }
  if (CH > 6u) { r.c6 = q_tile[base + 6u]; }
  if (CH > 7u) { r.c7 = q_tile[base + 7u]; }
  return r;
}

// CH vec4s of o_tile from index `base`.
fn o_tile_chans(base: u32) -> Chans {
  var r: Chans;
  r.c0 = o_tile[base];
  if (CH > 1u) { r.c1 = o_tile[base + 1u]; }
  if (CH > 2u) { r.c2 = o_tile[base + 2u]; }
  if (CH > 3u) { r.c3 = o_tile[base + 3u]; }
  if (CH > 4u) { r.c4 = o_tile[base + 4u]; }
  if (CH > 5u) { r.c5 = o_tile[base + 5u]; }
  if (CH > 6u) { r.c6 = o_tile[base + 6u]; }
  if (CH > 7u) { r.c7 = o_tile[base + 7u]; }
  return r;
}

// One key's state in backward_dkv. All zero for a key past T, which is never written.
struct KvRow {
  k: Chans,   // k slice times qk_scale: q·k is the base-2 logit
  v: Chans,   // v slice
  dk: Chans,  // sum dS[t, j] q[t], this slice
  dv: Chans,  // sum P[t, j] dO[t], this slice
}

fn bkv_row(j: u32, row0: u32, kv_stride: u32, slice: u32) -> KvRow {
  var r: KvRow;
  if (j < bkv_p.T) {
    let base = (row0 + j) * kv_stride + slice;
    let f = bkv_p.qk_scale;
    r.k.c0 = vec4<f32>(k[base]) * f;
    r.v.c0 = vec4<f32>(v[base]);
    if (CH > 1u) { r.k.c1 = vec4<f32>(k[base + 1u]) * f; r.v.c1 = vec4<f32>(v[base + 1u]); }
    if (CH > 2u) { r.k.c2 = vec4<f32>(k[base + 2u]) * f; r.v.c2 = vec4<f32>(v[base + 2u]); }
    if (CH > 3u) { r.k.c3 = vec4<f32>(k[base + 3u]) * f; r.v.c3 = vec4<f32>(v[base + 3u]); }
    if (CH > 4u) { r.k.c4 = vec4<f32>(k[base + 4u]) * f; r.v.c4 = vec4<f32>(v[base + 4u]); }
    if (CH > 5u) { r.k.c5 = vec4<f32>(k[base + 5u]) * f; r.v.c5 = vec4<f32>(v[base + 5u]); }
    if (CH > 6u) { r.k.c6 = vec4<f32>(k[base + 6u]) * f; r.v.c6 = vec4<f32>(v[base + 6u]); }
    if (CH > 7u) { r.k.c7 = vec4<f32>(k[base + 7u]) * f; r.v.c7 = vec4<f32>(v[base + 7u]); }
  }
  return r;
}

// Writes key j's dk slice (times beta * scale) and dv slice.
fn bkv_finish(r: KvRow, j: u32, row0: u32, kv_stride: u32, slice: u32) {
  if (j < bkv_p.T) {
    let base = (row0 + j) * kv_stride + slice;
    let f = bkv_p.qk_scale * LN2;
    bkv_dk[base] = r.dk.c0 * f;
    bkv_dv[base] = r.dv.c0;
    if (CH > 1u) { bkv_dk[base + 1u] = r.dk.c1 * f; bkv_dv[base + 1u] = r.dv.c1; }
    if (CH > 2u) { bkv_dk[base + 2u] = r.dk.c2 * f; bkv_dv[base + 2u] = r.dv.c2; }
    if (CH > 3u) { bkv_dk[base + 3u] = r.dk.c3 * f; bkv_dv[base + 3u] = r.dv.c3; }
    if (CH > 4u) { bkv_dk[base + 4u] = r.dk.c4 * f; bkv_dv[base + 4u] = r.dv.c4; }
    if (CH > 5u) { bkv_dk[base + 5u] = r.dk.c5 * f; bkv_dv[base + 5u] = r.dv.c5; }
    if (CH > 6u) { bkv_dk[base + 6u] = r.dk.c6 * f; bkv_dv[base + 6u] = r.dv.c6; }
    if (CH > 7u) { bkv_dk[base + 7u] = r.dk.c7 * f; bkv_dv[base + 7u] = r.dv.c7; }
  }
}

// Adds query t (staged at tile row jt; its slices qc, oc; base-2 logit s; dP = dp) to key `key`.
fn bkv_update(r: ptr<function, KvRow>, s: f32, dp: f32, jt: u32, qc: Chans, oc: Chans, key: u32, t: u32) {
  let g = grad_logit(s, dp, lse_tile[jt], delta_tile[jt], key <= t);
  (*r).dk = axpy_chans((*r).dk, 1.0, g.x, qc);
  (*r).dv = axpy_chans((*r).dv, 1.0, g.y, oc);
}

@compute @workgroup_size(NQ * G)
fn backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let BQ = NQ * QB;  // keys per workgroup
  let blocks = (bkv_p.T + BQ - 1u) / BQ;
  let group = linear_workgroup_id(wid, nwg);
  if (group >= bkv_p.B * bkv_p.KVH * blocks) {
    return;  // a spare workgroup from dispatch folding (uniform)
  }
  let block = group % blocks;
  let bkvh = group / blocks;
  let kvh = bkvh % bkv_p.KVH;
  let b = bkvh / bkv_p.KVH;
  let heads = bkv_p.H / bkv_p.KVH;  // query heads per kv head
  let c = lid / NQ;
  let lane = lid % NQ;
  let j0 = block * BQ + lane * QB;  // this invocation's keys: j0 .. j0 + QB - 1
  let t_first = block * BQ;         // the workgroup's first key: no earlier query sees its keys

  let q_stride = bkv_p.H * D4;
  let kv_stride = bkv_p.KVH * D4;
  let row0 = b * bkv_p.T;
  let kv_slice = kvh * D4 + c * CH;

  var r0 = bkv_row(j0, row0, kv_stride, kv_slice);
  var r1: KvRow;
  var r2: KvRow;
  var r3: KvRow;
  if (QB > 1u) { r1 = bkv_row(j0 + 1u, row0, kv_stride, kv_slice); }
  if (QB > 2u) { r2 = bkv_row(j0 + 2u, row0, kv_stride, kv_slice); }
  if (QB > 3u) { r3 = bkv_row(j0 + 3u, row0, kv_stride, kv_slice); }

  for (var hh = 0u; hh < heads; hh++) {
    let h = kvh * heads + hh;
    let bh = b * bkv_p.H + h;
    for (var tq = t_first; tq < bkv_p.T; tq += BK) {
      // Stage queries tq..tq+BK-1 of head h: q, dO, lse (base 2) and delta; zeros past T.
      for (var i = lid; i < BK * D4; i += NQ * G) {
        let t = tq + i / D4;
        var qv = vec4<f32>(0.0);
        var ov = vec4<f32>(0.0);
        if (t < bkv_p.T) {
          let src = (row0 + t) * q_stride + h * D4 + i % D4;
          qv = vec4<f32>(q[src]);
          ov = bkv_dout[src];
        }
        q_tile[i] = qv;
        o_tile[i] = ov;
      }
      for (var i = lid; i < BK; i += NQ * G) {
        let t = tq + i;
        var l = 0.0;
        var dl = 0.0;
        if (t < bkv_p.T) {
          l = bkv_lse[bh * bkv_p.T + t] * LOG2E;
          dl = bkv_delta[bh * bkv_p.T + t];
        }
        lse_tile[i] = l;
        delta_tile[i] = dl;
      }
      workgroupBarrier();

      // Causal: the invocation's first key j0 sees queries max(j0, tq)..; its later keys see
      // fewer, and their pairs before the diagonal get P = 0. Queries past T are not visited.
      var first = 0u;
      var n = 0u;
      if (j0 < bkv_p.T) {
        first = select(0u, j0 - tq, j0 > tq);
        n = min(BK, bkv_p.T - tq);
      }
      if (G == 1u) {
        for (var jt = first; jt < n; jt++) {
          let t = tq + jt;
          let qc = q_tile_chans(jt * D4);
          let oc = o_tile_chans(jt * D4);
          bkv_update(&r0, dot_chans(r0.k, qc), dot_chans(r0.v, oc), jt, qc, oc, j0, t);
          if (QB > 1u) { bkv_update(&r1, dot_chans(r1.k, qc), dot_chans(r1.v, oc), jt, qc, oc, j0 + 1u, t); }
          if (QB > 2u) { bkv_update(&r2, dot_chans(r2.k, qc), dot_chans(r2.v, oc), jt, qc, oc, j0 + 2u, t); }
          if (QB > 3u) { bkv_update(&r3, dot_chans(r3.k, qc), dot_chans(r3.v, oc), jt, qc, oc, j0 + 3u, t); }
        }
      } else {
        // This slice's partial (q·k, dO·v), then every slice sums all G of them.
        for (var jt = first; jt < n; jt++) {
          let qc = q_tile_chans(jt * D4 + c * CH);
          let oc = o_tile_chans(jt * D4 + c * CH);
          let at = (c * BK + jt) * NQ * QB + lane * QB;
          pair_partial[at] = vec2<f32>(dot_chans(r0.k, qc), dot_chans(r0.v, oc));
          if (QB > 1u) { pair_partial[at + 1u] = vec2<f32>(dot_chans(r1.k, qc), dot_chans(r1.v, oc)); }
          if (QB > 2u) { pair_partial[at + 2u] = vec2<f32>(dot_chans(r2.k, qc), dot_chans(r2.v, oc)); }
          if (QB > 3u) { pair_partial[at + 3u] = vec2<f32>(dot_chans(r3.k, qc), dot_chans(r3.v, oc)); }
        }
        workgroupBarrier();
        for (var jt = first; jt < n; jt++) {
          let t = tq + jt;
          let qc = q_tile_chans(jt * D4 + c * CH);
          let oc = o_tile_chans(jt * D4 + c * CH);
          let s0 = pair_sum(jt, lane * QB);
          bkv_update(&r0, s0.x, s0.y, jt, qc, oc, j0, t);
          if (QB > 1u) { let s1 = pair_sum(jt, lane * QB + 1u); bkv_update(&r1, s1.x, s1.y, jt, qc, oc, j0 + 1u, t); }
          if (QB > 2u) { let s2 = pair_sum(jt, lane * QB + 2u); bkv_update(&r2, s2.x, s2.y, jt, qc, oc, j0 + 2u, t); }
          if (QB > 3u) { let s3 = pair_sum(jt, lane * QB + 3u); bkv_update(&r3, s3.x, s3.y, jt, qc, oc, j0 + 3u, t); }
        }
      }
      workgroupBarrier();
    }
  }

  bkv_finish(r0, j0, row0, kv_stride, kv_slice);
  if (QB > 1u) { bkv_finish(r1, j0 + 1u, row0, kv_stride, kv_slice); }
  if (QB > 2u) { bkv_finish(r2, j0 + 2u, row0, kv_stride, kv_slice); }
  if (QB > 3u) { bkv_finish(r3, j0 + 3u, row0, kv_stride, kv_slice); }
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
  let index = linear_invocation_id(wid, nwg, lid, WG);  // ((b * H) + h) * T + t
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

// ---------------------------------------------------------------------------- probabilities
// The attention pattern itself, for the playground's heatmap (which keys each query reads):
//   P[b, h, t, j] = softmax_j(beta * scale * q[t]·k[j]) for j <= t,   0 for j > t (causal)
// with forward's logits (same qk_scale, same base-2 domain, same GQA mapping), so each row is what
// forward's weights over v were. forward never stores P (memory linear in T); this kernel writes
// it, [B, H, T, T], so it is meant for short sequences (the heatmap shows a few dozen tokens).
// One invocation per (b, h, t), ((b * H) + h) * T + t like naive, with naive's WG. The invocation
// owns its output row and uses it as scratch: pass 1 writes the base-2 logits and finds their max,
// pass 2 turns them into exp2(s - max) and sums them, pass 3 divides by the sum and zeroes the
// keys past the diagonal. Each dot product is computed once.

@group(0) @binding(0) var<storage, read_write> pr_probs: array<f32>;  // [B, H, T, T]
@group(0) @binding(1) var<storage, read> pr_q: array<vec4<act>>;      // [B*T, H*D]
@group(0) @binding(2) var<storage, read> pr_k: array<vec4<act>>;      // [B*T, KVH*D]
@group(0) @binding(3) var<uniform> pr_p: Params;

@compute @workgroup_size(WG)
fn probabilities(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let index = linear_invocation_id(wid, nwg, lid, WG);  // ((b * H) + h) * T + t
  if (index >= pr_p.B * pr_p.H * pr_p.T) {
    return;
  }
  let t = index % pr_p.T;
  let bh = index / pr_p.T;
  let h = bh % pr_p.H;
  let b = bh / pr_p.H;
  let kvh = h / (pr_p.H / pr_p.KVH);
  let kv_stride = pr_p.KVH * D4;
  let row0 = b * pr_p.T;
  let q_base = (row0 + t) * pr_p.H * D4 + h * D4;
  let out_base = index * pr_p.T;  // row t of head (b, h): [B, H, T, T] is row-major in (b, h, t)

  var qr: array<vec4<f32>, MAX_D4>;
  for (var i = 0u; i < D4; i++) {
    qr[i] = vec4<f32>(pr_q[q_base + i]) * pr_p.qk_scale;
  }

  // Pass 1: base-2 logits of the visible keys, and their max.
  var m = NEG;
  for (var j = 0u; j <= t; j++) {
    let kb = (row0 + j) * kv_stride + kvh * D4;
    var dot4 = vec4<f32>(0.0);
    for (var i = 0u; i < D4; i++) {
      dot4 += qr[i] * vec4<f32>(pr_k[kb + i]);
    }
    let s = dot4.x + dot4.y + dot4.z + dot4.w;
    pr_probs[out_base + j] = s;
    m = max(m, s);
  }
  // Pass 2: unnormalized weights (the max subtracted, so exp2 stays finite) and their sum.
  var l = 0.0;
  for (var j = 0u; j <= t; j++) {
    let w = exp2(pr_probs[out_base + j] - m);
    pr_probs[out_base + j] = w;
    l += w;
  }
  // Pass 3: normalize; the masked keys get exactly 0. l >= 1 (the max key contributes exp2(0)).
  let inv = 1.0 / l;
  for (var j = 0u; j < pr_p.T; j++) {
    pr_probs[out_base + j] = select(0.0, pr_probs[out_base + j] * inv, j <= t);
  }
}
