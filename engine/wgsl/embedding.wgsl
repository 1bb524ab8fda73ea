// embedding: out[t, c] = table[ids[t], c] for t < n, c < d; an id outside [0, V) (or NaN) gives
// zeros and never reads out of bounds.
struct P { n: u32, d: u32, V: u32 }
// The table: f32, or f16 in the embedding_f16 kernel (engine/kernels/f16.ts), read as f32.
// #half-input table 0 loadTable
@group(0) @binding(1) var<storage, read> ids: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.n * p.d) { return; }
  let t = i / p.d;
  let c = i - t * p.d;
  let id = ids[t];
  var v = 0.0;
  if (id >= 0.0 && id < f32(p.V)) {
    let row = min(u32(id), p.V - 1u);
    v = loadTable(row * p.d + c);
  }
  out[i] = v;
}
