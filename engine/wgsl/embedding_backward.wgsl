// embedding_backward: dtable[ids[t], c] += dout[t, c], tokens in order. One invocation per
// column c (no float atomics in WGSL), so repeated ids sum deterministically; ids outside
// [0, V) are skipped.
struct P { n: u32, d: u32, V: u32 }
@group(0) @binding(0) var<storage, read> ids: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read_write> dtable: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let c = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (c >= p.d) { return; }
  for (var t = 0u; t < p.n; t++) {
    let id = ids[t];
    if (id >= 0.0 && id < f32(p.V)) {
      let k = min(u32(id), p.V - 1u) * p.d + c;
      dtable[k] = dtable[k] + dout[t * p.d + c];
    }
  }
}
