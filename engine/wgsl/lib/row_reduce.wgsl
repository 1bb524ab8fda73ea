// Reductions over a workgroup of WG = 256 invocations, one value each: the row kernels (softmax,
// cross-entropy, KL, layer norm, RMS norm and their backward passes) reduce a row with them.
// Every invocation must call them in uniform control flow; all get the result.
const WG: u32 = 256u;
const LOWEST: f32 = -0x1.fffffep+127f; // -FLT_MAX exactly (a decimal literal above it is refused by Tint)
var<workgroup> red: array<f32, WG>;

fn reduce_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
