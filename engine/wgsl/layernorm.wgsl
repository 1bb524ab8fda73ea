// layernorm: per row of x [rows, d], mean, biased variance (two-pass), rstd = 1/sqrt(var + eps),
// out = (x - mean) * rstd * gamma + beta; stores mean[rows], rstd[rows].
struct P { rows: u32, d: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(6) var<uniform> p: P;

// #include lib/row_reduce.wgsl
// #include lib/norm_row.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // One workgroup per row; the grid folds into 2-D past 65535 rows.
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.d;
  var s = 0.0;
  for (var j = lid; j < p.d; j += WG) { s += x[base + j]; }
  let mu = reduce_sum(s, lid) / f32(p.d);
  let rs = inv_rms(base, p.d, mu, p.eps, lid);
  if (lid == 0u) {
    mean[row] = mu;
    rstd[row] = rs;
  }
  for (var j = lid; j < p.d; j += WG) {
    out[base + j] = (x[base + j] - mu) * rs * gamma[j] + beta[j];
  }
}
