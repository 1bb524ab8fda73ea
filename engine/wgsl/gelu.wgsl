// gelu (GPT-2 tanh form, lib/gelu.wgsl): out = x * sigmoid(2u).
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

// #include lib/sigmoid.wgsl
// #include lib/gelu.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < p.n) {
    let v = x[i];
    let c = gelu_clamp(v);
    out[i] = v * gelu_gate(c, c * c);
  }
}
