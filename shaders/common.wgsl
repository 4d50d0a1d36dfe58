// Prepended to every kernel family's source (see src/engine/shaders.ts).

// The linear id of a workgroup in a dispatch that `foldDispatch` may have folded from x into x·y.
fn linear_workgroup_id(wid: vec3<u32>, num_workgroups: vec3<u32>) -> u32 {
  return wid.x + wid.y * num_workgroups.x;
}

// The flat index of an invocation in such a dispatch of workgroups of `size` invocations.
fn linear_invocation_id(wid: vec3<u32>, num_workgroups: vec3<u32>, lid: u32, size: u32) -> u32 {
  return linear_workgroup_id(wid, num_workgroups) * size + lid;
}
