// repeat_kv: out[a, h, t, d] = x[a, h / g, t, d], x [A, Hkv, T, D] -> out [A, Hkv*g, T, D].
struct P { A: u32, Hkv: u32, g: u32, T: u32, D: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  let td = p.T * p.D;
  let heads = p.Hkv * p.g;
  if (i >= p.A * heads * td) { return; }
  let e = i % td;
  let r = i / td;
  let h = r % heads;
  let a = r / heads;
  out[i] = x[(a * p.Hkv + h / p.g) * td + e];
}
