// gelu_erf_backward: dx = dy * (Phi(x) + x phi(x)) (lib/normal_cdf.wgsl).
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

// #include lib/normal_cdf.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < p.n) {
    let v = x[i];
    dx[i] = dy[i] * (normal_cdf(v) + v * normal_pdf(v));
  }
}
