// cross_entropy_backward: dlogits[r, j] = (exp(logits[r, j] - lse[r]) - [j == target]) * dloss[r];
// target < 0: 0; target >= V or NaN: NaN. One invocation per element.
struct P { rows: u32, V: u32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> dloss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.rows * p.V) { return; }
  let r = i / p.V;
  let j = i - r * p.V;
  let t = targets[r];
  var g = 0.0;
  if (!(t < 0.0)) {
    if (t < f32(p.V)) {
      var e = exp(logits[i] - lse[r]);
      if (j == u32(t)) { e = e - 1.0; }
      g = e * dloss[r];
    } else {
      g = bitcast<f32>(0x7fc00000u + (p.rows & 0u));
    }
  }
  dlogits[i] = g;
}
