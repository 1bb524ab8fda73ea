// rmsnorm_backward: dx = rrms g dy - x rrms^3 mean(g dy x).
struct P { rows: u32, d: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> rrms: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> p: P;

// #include lib/row_reduce.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // One workgroup per row; the grid folds into 2-D past 65535 rows.
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.d;
  let rr = rrms[row];
  var s = 0.0;
  for (var j = lid; j < p.d; j += 256u) { s += gamma[j] * dy[base + j] * x[base + j]; }
  let c = rr * rr * rr * reduce_sum(s, lid) / f32(p.d);
  for (var j = lid; j < p.d; j += 256u) {
    dx[base + j] = rr * gamma[j] * dy[base + j] - x[base + j] * c;
  }
}
