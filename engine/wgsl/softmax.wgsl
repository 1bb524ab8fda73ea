// softmax: out = softmax(scale * x) per row of a [rows, cols] matrix, one workgroup per row.
// With causal != 0, row r is query position pos = (r % qlen) + (cols - qlen): columns after pos
// get exactly 0 and are left out of the max and the sum.
struct P { rows: u32, cols: u32, qlen: u32, causal: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

// The row lib/logsumexp.wgsl reduces: scale * x.
fn logit(i: u32) -> f32 { return p.scale * x[i]; }

// #include lib/row_reduce.wgsl
// #include lib/logsumexp.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  var n = p.cols;
  if (p.causal != 0u && p.qlen > 0u) {
    let pos = i32(row % p.qlen) + i32(p.cols) - i32(p.qlen);
    n = u32(clamp(pos + 1, 0, i32(p.cols)));
  }
  let base = row * p.cols;
  let m = row_max(base, n, lid);
  let inv = 1.0 / row_sum_exp(base, n, m, lid);
  for (var j = lid; j < p.cols; j += WG) {
    var v = 0.0;
    if (j < n) { v = exp(logit(base + j) - m) * inv; }
    out[base + j] = v;
  }
}
