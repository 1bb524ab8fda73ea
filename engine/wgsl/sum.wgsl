// sum: out[0] = sum of x[0..n). One workgroup of 256: each invocation adds strided blocks of 32
// elements into a block partial, partials into its total, then a tree reduction in shared memory.
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var total = 0.0;
  for (var base = 0u; base < p.n; base += 8192u) {
    var part = 0.0;
    let end = min(p.n, base + 8192u);
    for (var i = base + lid; i < end; i += 256u) { part += x[i]; }
    total += part;
  }
  red[lid] = total;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[0] = red[0]; }
}
