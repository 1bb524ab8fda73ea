// softcap (Gemma 2's soft-capping of attention scores and logits, lib/tanh.wgsl):
// out = cap * tanh((s * x) / cap); tanh itself at s = cap = 1.
struct P { n: u32, s: f32, cap: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

// #include lib/tanh.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < p.n) {
    out[i] = p.cap * tanh_f32((p.s * x[i]) / p.cap);
  }
}
