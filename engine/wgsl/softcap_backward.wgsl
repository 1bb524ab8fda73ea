// softcap_backward: dx = dy * s * (1 - tanh((s * x) / cap)^2) (lib/tanh.wgsl).
struct P { n: u32, s: f32, cap: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

// #include lib/tanh.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < p.n) {
    dx[i] = dy[i] * (p.s * tanh_slope((p.s * x[i]) / p.cap));
  }
}
