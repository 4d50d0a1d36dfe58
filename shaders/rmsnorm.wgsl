// RMSNorm, as Hugging Face's LlamaRMSNorm computes it in float32:
//   y = x * rsqrt(mean(x^2) + eps) * weight
// One workgroup per row. Also used for DroPE's QK-norm, over the whole q or k projection.
//
// Backward, with r = rstd[row] (saved by forward) and g = dy * weight:
//   dx[c]      = r * g[c] - x[c] * r^3 * mean_c'(g[c'] * x[c'])       (entry point `backward`)
//   dweight[c] = sum_rows dy[row, c] * x[row, c] * r                   (entry point `backward_weight`)
// The first follows from d(r)/dx[c] = -r^3 x[c] / C. The second is a reduction over rows, done
// without atomics (WGSL has no float atomics) in a fixed order, so a step is bit-reproducible.
//
// Glossary: R rows (B*T), C channels.

struct Params {
  rows: u32,
  C: u32,
  eps: f32,
}

override WG: u32 = 64;

// forward's x and y are activations (`act`: f32, or f16 at f16 precision); sums and rstd stay f32.
@group(0) @binding(0) var<storage, read_write> y: array<act>;     // [R, C]
@group(0) @binding(1) var<storage, read_write> rstd: array<f32>;  // [R], saved for the backward pass
@group(0) @binding(2) var<storage, read> x: array<act>;           // [R, C]
@group(0) @binding(3) var<storage, read> weight: array<f32>;      // [C]
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup_id(wid, nwg);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.C;
  var sum_sq = 0.0;
  for (var c = lid; c < p.C; c += WG) {
    let v = f32(x[base + c]);
    sum_sq += v * v;
  }
  let r = inverseSqrt(workgroup_sum(lid, sum_sq) / f32(p.C) + p.eps);
  for (var c = lid; c < p.C; c += WG) {
    y[base + c] = act(f32(x[base + c]) * r * weight[c]);
  }
  if (lid == 0u) {
    rstd[row] = r;
  }
}

// ------------------------------------------------------------------------------ backward (dx)
// One workgroup per row, like forward: the row's dot product sum_c g[c] * x[c] is a workgroup
// reduction, then every invocation writes its strided share of dx.

struct BackwardParams {
  rows: u32,
  C: u32,
}

@group(0) @binding(0) var<storage, read_write> dx: array<f32>;  // [R, C]
@group(0) @binding(1) var<storage, read> dy: array<f32>;        // [R, C], gradient of y
@group(0) @binding(2) var<storage, read> bx: array<f32>;        // [R, C], forward's input x
@group(0) @binding(3) var<storage, read> bweight: array<f32>;   // [C]
@group(0) @binding(4) var<storage, read> brstd: array<f32>;     // [R], saved by forward
@group(0) @binding(5) var<uniform> bp: BackwardParams;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup_id(wid, nwg);
  // Uniform across the workgroup, so the barriers in workgroup_sum stay in uniform control flow.
  if (row >= bp.rows) {
    return;
  }
  let base = row * bp.C;
  var dot = 0.0;
  for (var c = lid; c < bp.C; c += WG) {
    dot += dy[base + c] * bweight[c] * bx[base + c];
  }
  let r = brstd[row];
  // r^3 * mean(g * x): the coefficient of x in dx.
  let k = r * r * r * workgroup_sum(lid, dot) / f32(bp.C);
  for (var c = lid; c < bp.C; c += WG) {
    dx[base + c] = r * dy[base + c] * bweight[c] - k * bx[base + c];
  }
}

// ------------------------------------------------------------------------- backward (dweight)
// One workgroup per tile of DW_C channels, with DW_R invocations ("lanes") per channel: lane l
// sums rows l, l + DW_R, l + 2*DW_R, ... in order, then lane 0 adds the DW_R lane sums in lane
// order. The summation order depends on R only, never on scheduling: deterministic. Adjacent
// invocations read adjacent channels of a row, so the loads coalesce.
// ACCUMULATE adds to dweight (summing over layers that share a weight, or over micro-batches)
// instead of overwriting it.

override DW_C: u32 = 32;
override DW_R: u32 = 8;
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read_write> dweight: array<f32>;  // [C]
@group(0) @binding(1) var<storage, read> wdy: array<f32>;            // [R, C], gradient of y
@group(0) @binding(2) var<storage, read> wx: array<f32>;             // [R, C], forward's input x
@group(0) @binding(3) var<storage, read> wrstd: array<f32>;          // [R], saved by forward
@group(0) @binding(4) var<uniform> wp: BackwardParams;

var<workgroup> lane_sums: array<f32, DW_C * DW_R>;  // [DW_R, DW_C]

@compute @workgroup_size(DW_C * DW_R)
fn backward_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let tile = linear_workgroup_id(wid, nwg);
  let cl = lid % DW_C;
  let lane = lid / DW_C;
  let c = tile * DW_C + cl;
  var sum = 0.0;
  // Channels past C (the last tile) still reach the barrier below; they just read nothing.
  if (c < wp.C) {
    for (var row = lane; row < wp.rows; row += DW_R) {
      let i = row * wp.C + c;
      sum += wdy[i] * wx[i] * wrstd[row];
    }
  }
  lane_sums[lid] = sum;
  workgroupBarrier();
  if (lane == 0u && c < wp.C) {
    var total = 0.0;
    for (var l = 0u; l < DW_R; l++) {
      total += lane_sums[l * DW_C + cl];
    }
    if (ACCUMULATE) {
      dweight[c] += total;
    } else {
      dweight[c] = total;
    }
  }
}
