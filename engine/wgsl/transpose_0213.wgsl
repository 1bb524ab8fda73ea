// transpose_0213: out[a, c, b, d] = x[a, b, c, d], x [A, B, C, D] -> out [A, C, B, D].
struct P { A: u32, B: u32, C: u32, D: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.A * p.B * p.C * p.D) { return; }
  let d = i % p.D;
  let r = i / p.D;
  let b = r % p.B;
  let r2 = r / p.B;
  let c = r2 % p.C;
  let a = r2 / p.C;
  out[i] = x[((a * p.B + b) * p.C + c) * p.D + d];
}
