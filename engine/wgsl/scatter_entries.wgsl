// scatter_entries: dst[rowIds[i], colIds[i]] = src[i] for i < k (dst rows x cols); an entry whose
// row id is outside [0, rows) or column id outside [0, cols) (or NaN) is skipped, and every entry
// of dst no pair selects is left as it was. Ids are f32, truncated; the caller gives distinct
// pairs. One invocation per entry of src.
struct P { k: u32, rows: u32, cols: u32 }
// src as f32 bits: the f32 path copies them unchanged (NaN payloads included).
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read> rowIds: array<f32>;
@group(0) @binding(2) var<storage, read> colIds: array<f32>;
// dst: see lib/scatter.wgsl. In f16, adjacent entries may share words.
@group(0) @binding(3) var<storage, read_write> dst: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> p: P;

// #include lib/half.wgsl
// #include lib/units.wgsl
// #include lib/scatter.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.k) { return; }
  let r = unitOf(rowIds[i], p.rows);
  let c = unitOf(colIds[i], p.cols);
  if (r < p.rows && c < p.cols) { storeDst(r * p.cols + c, src[i]); }
}
