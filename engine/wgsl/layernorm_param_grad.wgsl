// layernorm_param_grad: dgamma[j] (+)= sum_r dy[r,j] (x[r,j] - mean[r]) rstd[r];
// dbeta[j] (+)= sum_r dy[r,j]. accumulate = 1 adds into the outputs.
struct P { rows: u32, d: u32, accumulate: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(6) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // One invocation per column, summing rows in blocks of 64 for accuracy.
  let j = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (j >= p.d) { return; }
  var ag = 0.0;
  var ab = 0.0;
  for (var r0 = 0u; r0 < p.rows; r0 += 64u) {
    var pg = 0.0;
    var pb = 0.0;
    let end = min(p.rows, r0 + 64u);
    for (var r = r0; r < end; r++) {
      let g = dy[r * p.d + j];
      pg += g * ((x[r * p.d + j] - mean[r]) * rstd[r]);
      pb += g;
    }
    ag += pg;
    ab += pb;
  }
  if (p.accumulate != 0u) {
    ag += dgamma[j];
    ab += dbeta[j];
  }
  dgamma[j] = ag;
  dbeta[j] = ab;
}
