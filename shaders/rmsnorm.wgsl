// RMSNorm, as Hugging Face's LlamaRMSNorm computes it in float32:
//   y = x * rsqrt(mean(x^2) + eps) * weight
// One workgroup per row. Also used for DroPE's QK-norm, over the whole q or k projection.
//
// Glossary: R rows (B*T), C channels.

struct Params {
  rows: u32,
  C: u32,
  eps: f32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<storage, read_write> y: array<f32>;     // [R, C]
@group(0) @binding(1) var<storage, read_write> rstd: array<f32>;  // [R], saved for the backward pass
@group(0) @binding(2) var<storage, read> x: array<f32>;           // [R, C]
@group(0) @binding(3) var<storage, read> weight: array<f32>;      // [C]
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> partial: array<f32, WG>;

// Sums `value` over the workgroup; every invocation gets the total.
fn workgroup_sum(lid: u32, value: f32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

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
    let v = x[base + c];
    sum_sq += v * v;
  }
  let r = inverseSqrt(workgroup_sum(lid, sum_sq) / f32(p.C) + p.eps);
  for (var c = lid; c < p.C; c += WG) {
    y[base + c] = x[base + c] * r * weight[c];
  }
  if (lid == 0u) {
    rstd[row] = r;
  }
}
