// scatter_cols: dst[r, ids[j]] = src[r, j] for r < rows, j < k (src rows x k, dst rows x cols);
// an id outside [0, cols) (or NaN) is skipped, and every entry of dst no id selects is left as it
// was. Ids are f32, truncated; the caller gives distinct ids. One invocation per element of src.
struct P { rows: u32, cols: u32, k: u32 }
// src as f32 bits: the f32 path copies them unchanged (NaN payloads included).
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<f32>;
// dst: see lib/scatter.wgsl. In f16, adjacent columns share words.
@group(0) @binding(2) var<storage, read_write> dst: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> p: P;

// #include lib/half.wgsl
// #include lib/units.wgsl
// #include lib/scatter.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.rows * p.k) { return; }
  let r = i / p.k;
  let j = i - r * p.k;
  let c = unitOf(ids[j], p.cols);
  if (c < p.cols) { storeDst(r * p.cols + c, src[i]); }
}
