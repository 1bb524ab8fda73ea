// layernorm_backward: dx = rstd (g dy - mean(g dy) - xhat mean(g dy xhat)), xhat = (x-mean) rstd.
struct P { rows: u32, d: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> p: P;

var<workgroup> red: array<vec2f, 256>;

// Sums of both components over the workgroup (called by all invocations, uniformly).
fn reduce2(v: vec2f, lid: u32) -> vec2f {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // One workgroup per row; the grid folds into 2-D past 65535 rows.
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.d;
  let mu = mean[row];
  let rs = rstd[row];
  var acc = vec2f(0.0, 0.0);
  for (var j = lid; j < p.d; j += 256u) {
    let gdy = gamma[j] * dy[base + j];
    acc += vec2f(gdy, gdy * (x[base + j] - mu) * rs);
  }
  let m = reduce2(acc, lid) / f32(p.d);
  for (var j = lid; j < p.d; j += 256u) {
    let gdy = gamma[j] * dy[base + j];
    let xh = (x[base + j] - mu) * rs;
    dx[base + j] = rs * (gdy - m.x - xh * m.y);
  }
}
