// argmax_rows: out[r] = index of the largest x[r, j] (lowest index on ties), as f32.
// One workgroup per row. Rows holding NaN give an unspecified index.
struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;
var<workgroup> rv: array<f32, WG>;
var<workgroup> ri: array<u32, WG>;

// True when (va, ia) beats (vb, ib): a larger value, or the same value at a lower index; an
// empty slot (index NONE) never beats a real one and always loses to one.
fn better(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  if (ia == NONE) { return false; }
  if (ib == NONE) { return true; }
  return va > vb || (va == vb && ia < ib);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var bv = 0.0;
  var bi = NONE;
  for (var j = lid; j < p.cols; j += WG) {
    let v = x[base + j];
    // Strictly greater: the lowest index of this invocation's stride wins ties.
    if (bi == NONE || v > bv) { bv = v; bi = j; }
  }
  rv[lid] = bv;
  ri[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s && better(rv[lid + s], ri[lid + s], rv[lid], ri[lid])) {
      rv[lid] = rv[lid + s];
      ri[lid] = ri[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    var i = ri[0];
    if (i == NONE) { i = 0u; }
    out[row] = f32(i);
  }
}
