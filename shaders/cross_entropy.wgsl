// Cross-entropy of next-token prediction, as Hugging Face's LlamaForCausalLM loss computes it per
// token (F.cross_entropy with ignore_index, reduction left to the caller):
//   nll[r] = logsumexp(logits[r, :]) - logits[r, targets[r]]
// in float32, stably: the row maximum m is subtracted before exp, so exp never overflows:
//   logsumexp = m + log(sum_v exp(logits[r, v] - m))
// One workgroup per row; its invocations stride over V (up to ~50k: SmolLM's vocab is 49152) and
// combine their partial results with a workgroup reduction. Rows past 65535 fold into x·y.
//
// Backward (entry point `backward`), the gradient of scale * sum_r nll[r]:
//   dlogits[r, v] = scale * (softmax(logits[r, :])[v] - (v == targets[r]))
// with the same max subtraction, so exp never overflows; rows with IGNORE_TARGET get 0.
//
// Glossary: R rows (B*T tokens), V vocabulary size.

struct Params {
  R: u32,
  V: u32,
}

override WG: u32 = 256;

// Targets equal to this give nll = 0 (padding, or the last position of a sequence). Must match
// IGNORE_TARGET in src/engine/ops/cross_entropy.ts.
const IGNORE_TARGET: u32 = 0xffffffffu;
// The most negative finite f32: the identity of max that needs no infinity (WGSL does not promise
// IEEE infinities). exp(LOWEST - m) is 0 for any realistic m.
const LOWEST: f32 = -0x1.fffffep+127f;  // -3.4028235e38, spelled exactly

@group(0) @binding(0) var<storage, read_write> nll: array<f32>;  // [R]
// logits are activations (`act`: f32, or f16 at f16 precision); the softmax runs in f32.
@group(0) @binding(1) var<storage, read> logits: array<act>;     // [R, V]
@group(0) @binding(2) var<storage, read> targets: array<u32>;    // [R], token ids or IGNORE_TARGET
@group(0) @binding(3) var<uniform> p: Params;

// The row's maximum m and sum_v exp(logits[row, v] - m) (>= 1, as the maximum contributes 1).
// Two passes over the row rather than an online rescaling: the second pass reads the row from
// cache, and each term is exactly exp(x - m) as in the reference formula. Shared with backward.
fn row_max_and_sum_exp(row: u32, lid: u32, V: u32) -> vec2<f32> {
  let base = row * V;
  var m = LOWEST;
  for (var v = lid; v < V; v += WG) {
    m = max(m, f32(logits[base + v]));
  }
  m = workgroup_max(lid, m);
  var s = 0.0;
  for (var v = lid; v < V; v += WG) {
    s += exp(f32(logits[base + v]) - m);
  }
  return vec2<f32>(m, workgroup_sum(lid, s));
}

// WG must be a power of two for the tree reductions (the TS wrapper sets it).
@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup_id(wid, nwg);
  // Uniform across the workgroup (depends on the workgroup id only), so the barriers below are safe.
  if (row >= p.R) {
    return;
  }
  let stats = row_max_and_sum_exp(row, lid, p.V);
  if (lid != 0u) {
    return;
  }
  let t = targets[row];
  if (t == IGNORE_TARGET) {
    nll[row] = 0.0;
  } else if (t >= p.V) {
    // The model checks targets on the CPU; should a bad one get here, do not read outside the row,
    // and make the loss NaN rather than silently dropping the token. The NaN bits go through a
    // runtime value so that WGSL's constant evaluation (which rejects NaN) does not see them.
    nll[row] = bitcast<f32>(0x7fc00000u | (t & 0u));
  } else {
    // (m - x_t) + log(s) rather than (m + log(s)) - x_t: with logits of 1e4, m + log(s) would round
    // away the small log(s) before the subtraction; m - x_t is exact when x_t is close to m.
    nll[row] = (stats.x - f32(logits[row * p.V + t])) + log(stats.y);
  }
}

// ------------------------------------------------------------------------------- backward
// One workgroup per row, like forward, sharing its logits and targets bindings and the row
// statistics; then each invocation writes its strided share of the row's gradient.

struct BackwardParams {
  R: u32,
  V: u32,
  scale: f32,  // 1 / (number of counted targets) for a mean loss
}

@group(0) @binding(0) var<storage, read_write> dlogits: array<f32>;  // [R, V]
@group(0) @binding(3) var<uniform> bp: BackwardParams;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup_id(wid, nwg);
  // Uniform across the workgroup, so the barriers in row_max_and_sum_exp are safe.
  if (row >= bp.R) {
    return;
  }
  let base = row * bp.V;
  let t = targets[row];
  if (t == IGNORE_TARGET) {
    for (var v = lid; v < bp.V; v += WG) {
      dlogits[base + v] = 0.0;
    }
    return;
  }
  let stats = row_max_and_sum_exp(row, lid, bp.V);
  if (t >= bp.V) {
    // As in forward: a bad target the CPU check missed poisons the row with NaN (and so the
    // gradient norm the trainer checks) instead of reading outside it or training silently.
    let nan = bitcast<f32>(0x7fc00000u | (t & 0u));
    for (var v = lid; v < bp.V; v += WG) {
      dlogits[base + v] = nan;
    }
    return;
  }
  // scale / s, once per row: then each element is one exp and one multiply.
  let k = bp.scale / stats.y;
  for (var v = lid; v < bp.V; v += WG) {
    // At the target, p * scale - scale: exact when p >= 1/2 (Sterbenz), so a confident correct
    // prediction keeps its small gradient (1 - p) * scale without cancellation error beyond p's own.
    let g = exp(f32(logits[base + v]) - stats.x) * k;
    dlogits[base + v] = select(g, g - bp.scale, v == t);
  }
}
