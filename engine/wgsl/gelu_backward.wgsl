// gelu_backward: dx = dy * gelu'(x) = dy * (s + x s (1 - s) 2u'(x)), s = sigmoid(2u),
// u = sqrt(2/pi)(x + 0.044715x^3), u' = sqrt(2/pi)(1 + 3 * 0.044715x^2) (lib/gelu.wgsl).
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

// #include lib/sigmoid.wgsl
// #include lib/gelu.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < p.n) {
    let v = gelu_clamp(x[i]);
    let v2 = v * v;
    let s = gelu_gate(v, v2);
    let du2 = 2.0 * GELU_C * (1.0 + 3.0 * GELU_K * v2);
    dx[i] = dy[i] * (s + s * (1.0 - s) * v * du2);
  }
}
