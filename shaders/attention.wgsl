// Causal grouped-query attention, as Hugging Face's LlamaAttention computes it before o_proj
// (eager_attention_forward: softmax in float32 of scaling * q·k with the causal mask, times v),
// with DroPE's logit scale beta folded into the scaling, and an optional attention window
// (Params.window, see attention_params.wgsl, prepended with the glossary):
//   logits[t, j] = beta * scale * (q[t] · k[j])  for visible keys j: t - window < j <= t
//   out[t] = sum_j softmax_j(logits[t, :]) v[j]
//   lse[t] = log(sum_j exp(logits[t, j]))          (forward only, kept for the backward pass)
// and its gradients (entry points backward_delta, backward_dq, backward_dkv; formulas there).
// The straightforward baseline is attention_naive.wgsl; the probabilities for the heatmap are
// attention_probabilities.wgsl.
//
// All entry points work in the base-2 domain: q (k in backward_dkv) is pre-multiplied by
// beta * scale * log2(e), so exp(x - m) becomes exp2(x' - m') with no multiply per key; lse
// converts back with ln(2).
// Softmax runs in f32 with the running max subtracted. Memory is linear in T: no kernel keeps a
// T x T score buffer.
//
// Tensors are bound as vec4 arrays: D is a multiple of 4, so every row starts on a 16-byte
// boundary, and one vec4 load moves four channels. q, k, v and out of forward are activations
// (`act`: f32, or f16 at f16 precision, converted to f32 as they are loaded); the gradients and
// lse stay f32. The backward passes read q, k, v through the same bindings.
//
// `#unroll N MAX: statement` lines are expanded by src/engine/shaders.ts into the statement for
// # = 0, then `if (N > #) { statement }` for # = 1 .. MAX-1, with # replaced by the index: the
// override N decides at pipeline creation which copies run (why unrolled: see forward).

// forward's bindings: two outputs (out, lse), three inputs, the uniforms.
@group(0) @binding(0) var<storage, read_write> out: array<vec4<act>>;  // [B*T, H*D]
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;        // [B, H, T]
@group(0) @binding(2) var<storage, read> q: array<vec4<act>>;          // [B*T, H*D]
@group(0) @binding(3) var<storage, read> k: array<vec4<act>>;          // [B*T, KVH*D]
@group(0) @binding(4) var<storage, read> v: array<vec4<act>>;          // [B*T, KVH*D]
@group(0) @binding(5) var<uniform> p: Params;

// ---------------------------------------------------------------------------------- forward
// One workgroup per (b, h, block of NQ*QB queries). The workgroup walks the keys its queries see
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
//    names (registers, no gathers; the `#unroll` lines). An invocation owns CH vec4s = 4*CH
//    channels of the head dim; G = D4/CH invocations share a query when D > 32, and their
//    partial dot products meet in workgroup memory.
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

var<workgroup> k_tile: array<vec4<f32>, BK * D4>;  // [BK, D] keys kt..kt+BK-1 of this kv head
var<workgroup> v_tile: array<vec4<f32>, BK * D4>;  // [BK, D]
var<workgroup> partial: array<f32, PARTIALS>;      // [G, BK, NQ*QB] q·k per slice, when G > 1

// Up to 8 vec4s of a head row: this invocation's slice of q, k, v or the accumulator. Members
// past CH stay zero.
struct Chans {
  c0: vec4<f32>, c1: vec4<f32>, c2: vec4<f32>, c3: vec4<f32>,
  c4: vec4<f32>, c5: vec4<f32>, c6: vec4<f32>, c7: vec4<f32>,
}

// Copies keys and values kt..kt+BK-1 of kv head kvh (rows row0 + j of a sequence of T) into
// k_tile and v_tile, zeros past T (never visible); the workgroup's NQ*G invocations share the
// copy. forward and backward_dq stage the same tiles.
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

// The first tile of keys a block of queries starting at t_first needs.
fn first_key_tile(t_first: u32, window: u32) -> u32 {
  return first_visible_key(t_first, window) / BK * BK;
}

// CH vec4s of k_tile from index `base`.
fn k_chans(base: u32) -> Chans {
  var r: Chans;
  #unroll CH 8: r.c# = k_tile[base + #u];
  return r;
}

// CH vec4s of v_tile from index `base`.
fn v_chans(base: u32) -> Chans {
  var r: Chans;
  #unroll CH 8: r.c# = v_tile[base + #u];
  return r;
}

// CH vec4s of q from index `base`, times `scale`.
fn q_chans(base: u32, scale: f32) -> Chans {
  var r: Chans;
  #unroll CH 8: r.c# = vec4<f32>(q[base + #u]) * scale;
  return r;
}

fn dot_chans(a: Chans, b: Chans) -> f32 {
  var s = vec4<f32>(0.0);
  #unroll CH 8: s += a.c# * b.c#;
  return s.x + s.y + s.z + s.w;
}

// a * x + w * b
fn axpy_chans(a: Chans, x: f32, w: f32, b: Chans) -> Chans {
  var r: Chans;
  #unroll CH 8: r.c# = a.c# * x + w * b.c#;
  return r;
}

// One query's online-softmax state: running max, running sum, unnormalized output slice.
struct Running {
  m: f32,
  l: f32,
  acc: Chans,
}

// Folds one key (base-2 logit s, value slice vc) into the running state. A masked key (s = NEG)
// adds nothing, also before the query's first visible key, when m is still NEG.
fn online_update(r: Running, s: f32, vc: Chans) -> Running {
  let m_new = max(r.m, s);
  let correction = exp2(r.m - m_new);
  // A masked key never counts. Without a window every query's first key (key 0) is visible, so m
  // is a real maximum from then on and exp2(NEG - m) is already 0: the test is only for windows.
  let w = select(0.0, exp2(s - m_new), !WINDOWED || s > NEG);
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

// The logit s, or NEG where query t does not see `key`.
fn masked(s: f32, key: u32, t: u32) -> f32 {
  return select(NEG, s, key_visible(key, t, p.window));
}

// Writes query t's normalized output slice, and (slice 0) its log-sum-exp in natural log.
fn finish(r: Running, t: u32, row0: u32, q_stride: u32, slice: u32, bh: u32, c: u32) {
  if (t < p.T) {
    let base = (row0 + t) * q_stride + slice;
    let a = r.acc;
    let f = 1.0 / r.l;
    #unroll CH 8: out[base + #u] = vec4<act>(a.c# * f);
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
  // m starts at NEG, and online_update never lets a masked key count.
  var q0: Chans;
  var q1: Chans;
  var q2: Chans;
  var q3: Chans;
  #unroll QB 4: q# = load_query(t0 + #u, row0, q_stride, slice);
  var r0 = Running(NEG, 0.0, Chans());
  var r1 = r0;
  var r2 = r0;
  var r3 = r0;

  for (var kt = first_key_tile(block * BQ, p.window); kt <= t_last; kt += BK) {
    stage_kv_tile(lid, kt, p.T, row0, kv_stride, kvh);
    workgroupBarrier();

    // Causal: this invocation's last query sees keys kt..t_hi of the tile; its earlier queries
    // see fewer, and their logits past the diagonal (or before the window) are masked to NEG.
    // Lanes of one SIMD group serve neighbouring queries, so their loop counts differ only near
    // the diagonal.
    var n = 0u;
    if (t0 < p.T && kt <= t_hi) {
      n = min(BK, t_hi + 1u - kt);
    }
    if (G == 1u) {
      for (var j = 0u; j < n; j++) {
        let key = kt + j;
        let kc = k_chans(j * D4);
        let vc = v_chans(j * D4);
        #unroll QB 4: r# = online_update(r#, masked(dot_chans(q#, kc), key, t0 + #u), vc);
      }
    } else {
      // Partial dot products of this slice, then every slice sums all G of them.
      for (var j = 0u; j < n; j++) {
        let kc = k_chans(j * D4 + c * CH);
        let at = ((c * BK + j) * NQ + lane) * QB;
        #unroll QB 4: partial[at + #u] = dot_chans(q#, kc);
      }
      workgroupBarrier();
      for (var j = 0u; j < n; j++) {
        let key = kt + j;
        var s = vec4<f32>(0.0);  // the logits of queries t0 + 0..3
        for (var g = 0u; g < G; g++) {
          let at = ((g * BK + j) * NQ + lane) * QB;
          #unroll QB 4: s[#] += partial[at + #u];
        }
        let vc = v_chans(j * D4 + c * CH);
        #unroll QB 4: r# = online_update(r#, masked(s[#], key, t0 + #u), vc);
      }
    }
    workgroupBarrier();
  }

  #unroll QB 4: finish(r#, t0 + #u, row0, q_stride, slice, bh, c);
}

// --------------------------------------------------------------------------------- backward
// The gradients of forward, FlashAttention-2's backward (Dao 2023, Algorithm 2) split into three
// passes so that every gradient value has exactly one writer: deterministic, with no atomics
// (WGSL has no float atomics). With L[t, j] = beta * scale * q[t]·k[j] the natural logits,
// P = exp(L - lse) the softmax recomputed from forward's lse (0 for keys t does not see), and dO
// the gradient of out:
//   delta[t] = dO[t]·out[t]                 (= sum_j P[t, j] dP[t, j]: softmax's Jacobian term)
//   dP[t, j] = dO[t]·v[j]
//   dS[t, j] = P[t, j] (dP[t, j] - delta[t])  (the gradient of the logit L[t, j])
//   dq[t]    = beta * scale * sum over visible j of dS[t, j] k[j]
//   dk[j]    = beta * scale * sum over the kv head's query heads, and the t that see j, of dS[t, j] q[t]
//   dv[j]    = sum over the kv head's query heads, and the t that see j, of P[t, j] dO[t]
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
// One invocation per (b, h, t), ((b * H) + h) * T + t.

override WG: u32 = 64;  // invocations per workgroup of backward_delta

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
    #unroll CH 8: r.o.c# = bq_dout[base + #u];
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
    #unroll CH 8: bq_dq[base + #u] = a.c# * f;
  }
}

// Adds key `key` (its slice kc, base-2 logit s, dP = dp) to query t's accumulator.
fn bq_update(r: DqRow, s: f32, dp: f32, kc: Chans, key: u32, t: u32) -> Chans {
  let ds = grad_logit(s, dp, r.lse2, r.delta, key_visible(key, t, bq_p.window)).x;
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

  var r0: DqRow;
  var r1: DqRow;
  var r2: DqRow;
  var r3: DqRow;
  #unroll QB 4: r# = bq_row(t0 + #u, row0, q_stride, slice, bh);

  for (var kt = first_key_tile(block * BQ, bq_p.window); kt <= t_last; kt += BK) {
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
        #unroll QB 4: r#.acc = bq_update(r#, dot_chans(r#.q, kc), dot_chans(r#.o, vc), kc, key, t0 + #u);
      }
    } else {
      // This slice's partial (q·k, dO·v), then every slice sums all G of them.
      for (var j = 0u; j < n; j++) {
        let kc = k_chans(j * D4 + c * CH);
        let vc = v_chans(j * D4 + c * CH);
        let at = (c * BK + j) * NQ * QB + lane * QB;
        #unroll QB 4: pair_partial[at + #u] = vec2<f32>(dot_chans(r#.q, kc), dot_chans(r#.o, vc));
      }
      workgroupBarrier();
      for (var j = 0u; j < n; j++) {
        let key = kt + j;
        let kc = k_chans(j * D4 + c * CH);
        #unroll QB 4: let s# = pair_sum(j, lane * QB + #u); r#.acc = bq_update(r#, s#.x, s#.y, kc, key, t0 + #u);
      }
    }
    workgroupBarrier();
  }

  #unroll QB 4: bq_finish(r#, t0 + #u, row0, q_stride, slice);
}

// ------------------------------------------------------------------------------ backward_dkv
// One workgroup per (b, kv head, block of NQ*QB keys). For each query head h of the kv head's
// group in turn, and each tile of BK queries that see any of the block's keys (from its first
// key to its last key + window - 1), the workgroup stages the queries' q and dO rows and their lse
// and delta; each invocation adds every visible (query, key) pair to its keys' dk and dv, which
// live in registers. Neighbouring invocations take neighbouring keys, so a SIMD group's lanes
// read the same staged query at the same time, as in forward.

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
  #unroll CH 8: r.c# = q_tile[base + #u];
  return r;
}

// CH vec4s of o_tile from index `base`.
fn o_tile_chans(base: u32) -> Chans {
  var r: Chans;
  #unroll CH 8: r.c# = o_tile[base + #u];
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
    #unroll CH 8: r.k.c# = vec4<f32>(k[base + #u]) * f; r.v.c# = vec4<f32>(v[base + #u]);
  }
  return r;
}

// Writes key j's dk slice (times beta * scale) and dv slice.
fn bkv_finish(r: KvRow, j: u32, row0: u32, kv_stride: u32, slice: u32) {
  if (j < bkv_p.T) {
    let base = (row0 + j) * kv_stride + slice;
    let f = bkv_p.qk_scale * LN2;
    #unroll CH 8: bkv_dk[base + #u] = r.dk.c# * f; bkv_dv[base + #u] = r.dv.c#;
  }
}

// Adds query t (staged at tile row jt; its slices qc, oc; base-2 logit s; dP = dp) to key `key`.
fn bkv_update(r: ptr<function, KvRow>, s: f32, dp: f32, jt: u32, qc: Chans, oc: Chans, key: u32, t: u32) {
  let g = grad_logit(s, dp, lse_tile[jt], delta_tile[jt], key_visible(key, t, bkv_p.window));
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
  // One past the last query that sees the workgroup's last key.
  let t_end = min(bkv_p.T, min(block * BQ + BQ, bkv_p.T) - 1u + bkv_p.window);

  let q_stride = bkv_p.H * D4;
  let kv_stride = bkv_p.KVH * D4;
  let row0 = b * bkv_p.T;
  let kv_slice = kvh * D4 + c * CH;

  var r0: KvRow;
  var r1: KvRow;
  var r2: KvRow;
  var r3: KvRow;
  #unroll QB 4: r# = bkv_row(j0 + #u, row0, kv_stride, kv_slice);

  for (var hh = 0u; hh < heads; hh++) {
    let h = kvh * heads + hh;
    let bh = b * bkv_p.H + h;
    for (var tq = t_first; tq < t_end; tq += BK) {
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
      // fewer, and pairs before the diagonal (or past the window) get P = 0. Queries past T are
      // not visited.
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
          #unroll QB 4: bkv_update(&r#, dot_chans(r#.k, qc), dot_chans(r#.v, oc), jt, qc, oc, j0 + #u, t);
        }
      } else {
        // This slice's partial (q·k, dO·v), then every slice sums all G of them.
        for (var jt = first; jt < n; jt++) {
          let qc = q_tile_chans(jt * D4 + c * CH);
          let oc = o_tile_chans(jt * D4 + c * CH);
          let at = (c * BK + jt) * NQ * QB + lane * QB;
          #unroll QB 4: pair_partial[at + #u] = vec2<f32>(dot_chans(r#.k, qc), dot_chans(r#.v, oc));
        }
        workgroupBarrier();
        for (var jt = first; jt < n; jt++) {
          let t = tq + jt;
          let qc = q_tile_chans(jt * D4 + c * CH);
          let oc = o_tile_chans(jt * D4 + c * CH);
          #unroll QB 4: let s# = pair_sum(jt, lane * QB + #u); bkv_update(&r#, s#.x, s#.y, jt, qc, oc, j0 + #u, t);
        }
      }
      workgroupBarrier();
    }
  }

  #unroll QB 4: bkv_finish(r#, j0 + #u, row0, kv_stride, kv_slice);
}
