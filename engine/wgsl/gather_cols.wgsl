// gather_cols: out[r, j] = x[r, ids[j]] for r < rows, j < k (x rows x cols, out rows x k); an id
// outside [0, cols) (or NaN) gives 0 and never reads out of bounds. Ids are f32, truncated.
// Copies bits: an f32 x moves unchanged (NaN payloads included). One invocation per element of
// out.
struct P { rows: u32, cols: u32, k: u32 }
// x: f32, or f16 in the gather_cols_f16 kernel (engine/kernels/units.ts); loadX gives the f32
// bits of an element (an f32 x moves unchanged, an f16 one widened).
// #half-input x 0 loadX bits
@group(0) @binding(1) var<storage, read> ids: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<uniform> p: P;

// #include lib/units.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.rows * p.k) { return; }
  let r = i / p.k;
  let j = i - r * p.k;
  let c = unitOf(ids[j], p.cols);
  var v = 0u;
  if (c < p.cols) { v = loadX(r * p.cols + c); }
  out[i] = v;
}
