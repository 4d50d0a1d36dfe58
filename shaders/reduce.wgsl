// Workgroup tree reductions, shared by the families whose kernels reduce over their workgroup:
// rmsnorm, cross_entropy and adamw (src/engine/shaders.ts puts this file before theirs). Each of
// them declares `override WG`, its workgroup size, a power of two.
//
// Every invocation gets the result, so callers must be in workgroup-uniform control flow (the
// barriers). The tree has a fixed shape, so a sum comes out bit-identical on every run.

var<workgroup> reduce_scratch: array<f32, WG>;

// The sum (or, with take_max, the maximum) of `value` over the workgroup's WG invocations.
fn workgroup_reduce(lid: u32, value: f32, take_max: bool) -> f32 {
  reduce_scratch[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let a = reduce_scratch[lid];
      let b = reduce_scratch[lid + stride];
      reduce_scratch[lid] = select(a + b, max(a, b), take_max);
    }
    workgroupBarrier();
  }
  let result = reduce_scratch[0];
  workgroupBarrier();  // nobody may overwrite the scratch before everyone has read the result
  return result;
}

fn workgroup_sum(lid: u32, value: f32) -> f32 {
  return workgroup_reduce(lid, value, false);
}

fn workgroup_max(lid: u32, value: f32) -> f32 {
  return workgroup_reduce(lid, value, true);
}
