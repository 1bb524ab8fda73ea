// sum_rows: out[c] = (accumulate ? out[c] : 0) + sum over r < rows of x[r, c].
// A workgroup covers 64 columns with 4 invocations per column: invocation `lane` sums rows
// lane, lane + 4, ... (neighbouring invocations read neighbouring columns), then the 4 partial
// sums are added in workgroup memory. Groups fold into 2-D like grid1d(cols, 64).
struct P { rows: u32, cols: u32, accumulate: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let col = (wid.y * nwg.x + wid.x) * 64u + lid % 64u;
  let lane = lid / 64u;
  var s = 0.0;
  if (col < p.cols) {
    for (var r = lane; r < p.rows; r += 4u) { s += x[r * p.cols + col]; }
  }
  partial[lid] = s;
  workgroupBarrier();
  if (lane == 0u && col < p.cols) {
    let total = ((partial[lid] + partial[lid + 64u]) + partial[lid + 128u]) + partial[lid + 192u];
    if (p.accumulate != 0u) { out[col] = out[col] + total; } else { out[col] = total; }
  }
}
