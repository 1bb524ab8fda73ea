// softmax_backward: dx = scale * y * (dy - sum_j y_j dy_j) per row, one workgroup per row.
struct P { rows: u32, cols: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

// #include lib/row_reduce.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var s = 0.0;
  for (var j = lid; j < p.cols; j += WG) { s += y[base + j] * dy[base + j]; }
  let dot = reduce_sum(s, lid);
  for (var j = lid; j < p.cols; j += WG) {
    dx[base + j] = p.scale * (y[base + j] * (dy[base + j] - dot));
  }
}
