// repeat_kv_backward: dx[a, k, t, d] = sum_{j<g} dout[a, k*g + j, t, d] (transpose of repeat_kv).
struct P { A: u32, Hkv: u32, g: u32, T: u32, D: u32 }
@group(0) @binding(0) var<storage, read> dout: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  let td = p.T * p.D;
  if (i >= p.A * p.Hkv * td) { return; }
  let e = i % td;
  let r = i / td;
  var s = 0.0;
  for (var j = 0u; j < p.g; j++) { s += dout[(r * p.g + j) * td + e]; }
  dx[i] = s;
}
