// count_nonfinite: out[0] = number of NaN / +-Inf in x[0..n), found from the bits (an all-ones
// exponent), since WGSL may assume floats are finite. One workgroup of 256.
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> red: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var c = 0u;
  for (var i = lid; i < p.n; i += 256u) {
    if ((x[i] & 0x7f800000u) == 0x7f800000u) { c += 1u; }
  }
  red[lid] = c;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[0] = f32(red[0]); }
}
