// Attention of a few new query rows against a KV cache (KV-cached decoding, src/model/kv-cache.ts):
// the same logits and softmax as attention.wgsl's forward, for the N rows appended last, with
// keys stored UNROTATED in the cache. This kernel rotates each key (and the query) as it reads it,
// with the current position mode's cos/sin tables (src/model/positions.ts, the tables rope.wgsl
// uses), so a change of mode ("Drop RoPE", another scaling) applies to the next token with no
// recompute of the cache, as the DroPE code does by passing an identity rotation. ROTATE = false
// is that identity (mode none): the tables are bound but never read.
//
//   row i (position pos = offset + i) sees keys j with key_visible(j, pos, window), all in the cache
//   q' = R(pos) q,  k'_j = R(j) k_j   (HF's rotate_half layout: dim d pairs with d + D/2, as rope.wgsl)
//   logits_j = beta * scale * (q' · k'_j),  out[i] = sum_j softmax_j(logits) v_j
//
// Split-K: the visible keys, from key_start, are cut into S chunks of WG keys; decode_partial
// gives each (row, head, chunk) one workgroup, one key per invocation, and writes the chunk's
// softmax state (max m and sum l in base 2, unnormalized output acc); decode_merge combines the S
// states of each (row, head) into out. Memory is linear in the cache length.
//
// Glossary (besides attention_params.wgsl's): N new query rows, P table rows (>= offset + N),
// S chunks, WG keys per chunk. q and out are [N, H*D]; the cache is [capacity, KVH*D].

struct DecodeParams {
  N: u32,
  H: u32,
  KVH: u32,
  offset: u32,     // position of row 0: keys 0 .. offset-1 were cached before these rows
  qk_scale: f32,   // beta * scale * log2(e), as Params.qk_scale
  window: u32,     // keys a query sees, its own included (attention_params.wgsl)
  key_start: u32,  // the first key row 0 sees: first_visible_key(offset, window)
  S: u32,          // chunks of WG keys from key_start
}

override WG: u32 = 64;         // keys per chunk, invocations per workgroup (a power of two: reduce.wgsl)
override HALF: u32 = HEAD_DIM / 2u;
override ROTATE: bool = true;  // false: mode none, the rotation is the identity

// decode_partial's bindings.
@group(0) @binding(0) var<storage, read_write> part_acc: array<f32>;      // [N, H, S, D]
@group(0) @binding(1) var<storage, read_write> part_ml: array<vec2<f32>>; // [N, H, S] (m, l)
@group(0) @binding(2) var<storage, read> q: array<act>;                   // [N, H*D] unrotated
@group(0) @binding(3) var<storage, read> k_cache: array<act>;             // [capacity, KVH*D] unrotated
@group(0) @binding(4) var<storage, read> v_cache: array<act>;             // [capacity, KVH*D]
@group(0) @binding(5) var<storage, read> cos_table: array<f32>;           // [P, D/2]
@group(0) @binding(6) var<storage, read> sin_table: array<f32>;           // [P, D/2]
@group(0) @binding(7) var<uniform> p: DecodeParams;

var<workgroup> q_rot: array<f32, HEAD_DIM>;  // the rotated query times qk_scale
var<workgroup> weights: array<f32, WG>;      // exp2(logit - m) of the chunk's keys, 0 if not seen

// (cos, sin) of angle pair d at position pos, or the identity.
fn rotation(pos: u32, d: u32) -> vec2<f32> {
  if (!ROTATE) {
    return vec2<f32>(1.0, 0.0);
  }
  return vec2<f32>(cos_table[pos * HALF + d], sin_table[pos * HALF + d]);
}

@compute @workgroup_size(WG)
fn decode_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let group = linear_workgroup_id(wid, nwg);
  if (group >= p.N * p.H * p.S) {
    return;  // a spare workgroup from dispatch folding (uniform: the whole workgroup leaves)
  }
  let chunk = group % p.S;
  let row_head = group / p.S;  // i * H + h
  let h = row_head % p.H;
  let i = row_head / p.H;
  let kvh = h / (p.H / p.KVH);
  let pos = p.offset + i;

  // The query, rotated to its position as rope.wgsl does, times the logit scale (as forward's q_chans).
  let q_base = row_head * HEAD_DIM;
  for (var d = lid; d < HALF; d += WG) {
    let lo = f32(q[q_base + d]);
    let hi = f32(q[q_base + d + HALF]);
    let r = rotation(pos, d);
    q_rot[d] = (lo * r.x - hi * r.y) * p.qk_scale;
    q_rot[d + HALF] = (hi * r.x + lo * r.y) * p.qk_scale;
  }
  workgroupBarrier();

  // This invocation's key, rotated to its own position as it is read.
  let first = p.key_start + chunk * WG;
  let key = first + lid;
  var logit = NEG;
  if (key_visible(key, pos, p.window)) {
    let k_base = key * p.KVH * HEAD_DIM + kvh * HEAD_DIM;
    var s = 0.0;
    for (var d = 0u; d < HALF; d++) {
      let lo = f32(k_cache[k_base + d]);
      let hi = f32(k_cache[k_base + d + HALF]);
      let r = rotation(key, d);
      s += q_rot[d] * (lo * r.x - hi * r.y) + q_rot[d + HALF] * (hi * r.x + lo * r.y);
    }
    logit = s;
  }
  let m = workgroup_max(lid, logit);
  let w = select(0.0, exp2(logit - m), logit > NEG);
  weights[lid] = w;
  let l = workgroup_sum(lid, w);  // its barriers also publish `weights`

  // The chunk's unnormalized output, one channel per invocation; keys past this row's position
  // (never cached yet for the last row) have weight 0 and are not read.
  let keys = min(WG, pos + 1u - min(first, pos + 1u));
  let out_base = group * HEAD_DIM;
  for (var d = lid; d < HEAD_DIM; d += WG) {
    var acc = 0.0;
    for (var j = 0u; j < keys; j++) {
      let wj = weights[j];
      if (wj > 0.0) {
        acc += wj * f32(v_cache[(first + j) * p.KVH * HEAD_DIM + kvh * HEAD_DIM + d]);
      }
    }
    part_acc[out_base + d] = acc;
  }
  if (lid == 0u) {
    part_ml[group] = vec2<f32>(m, l);
  }
}

// decode_merge's bindings: one invocation per (row, head, channel).
@group(0) @binding(0) var<storage, read_write> merge_out: array<act>;     // [N, H*D]
@group(0) @binding(1) var<storage, read> merge_acc: array<f32>;           // [N, H, S, D]
@group(0) @binding(2) var<storage, read> merge_ml: array<vec2<f32>>;      // [N, H, S]
@group(0) @binding(3) var<uniform> mp: DecodeParams;

// The S chunk states of (row, head) rescaled to their common max: out = sum_c acc_c 2^(m_c - M) /
// sum_c l_c 2^(m_c - M). A chunk no key of which the row sees has m = NEG, l = 0, acc = 0.
@compute @workgroup_size(WG)
fn decode_merge(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let index = linear_invocation_id(wid, nwg, lid, WG);
  if (index >= mp.N * mp.H * HEAD_DIM) {
    return;
  }
  let d = index % HEAD_DIM;
  let row_head = index / HEAD_DIM;
  var m = NEG;
  for (var c = 0u; c < mp.S; c++) {
    m = max(m, merge_ml[row_head * mp.S + c].x);
  }
  var l = 0.0;
  var acc = 0.0;
  for (var c = 0u; c < mp.S; c++) {
    let state = merge_ml[row_head * mp.S + c];
    let scale = exp2(state.x - m);
    l += state.y * scale;
    acc += merge_acc[(row_head * mp.S + c) * HEAD_DIM + d] * scale;
  }
  merge_out[index] = act(acc / l);
}
