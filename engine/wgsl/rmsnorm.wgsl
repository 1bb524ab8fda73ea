// rmsnorm: rrms = 1/sqrt(mean(x^2) + eps) per row, out = x * rrms * gamma; stores rrms[rows].
struct P { rows: u32, d: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> rrms: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

// #include lib/row_reduce.wgsl
// #include lib/norm_row.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // One workgroup per row; the grid folds into 2-D past 65535 rows.
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.d;
  let rr = inv_rms(base, p.d, 0.0, p.eps, lid);
  if (lid == 0u) { rrms[row] = rr; }
  for (var j = lid; j < p.d; j += WG) {
    out[base + j] = x[base + j] * rr * gamma[j];
  }
}
