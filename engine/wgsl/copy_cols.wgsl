// copy_cols: out[r, dstOffset + j] = x[r, srcOffset + j] for r < rows, j < width; the other
// columns of out are untouched.
struct P { rows: u32, srcCols: u32, srcOffset: u32, dstCols: u32, dstOffset: u32, width: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.rows * p.width) { return; }
  let r = i / p.width;
  let j = i - r * p.width;
  out[r * p.dstCols + p.dstOffset + j] = x[r * p.srcCols + p.srcOffset + j];
}
