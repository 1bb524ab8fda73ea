// matmul, matmul_tn and matmul_nt: for each i < batch, C_i = op(A_i) op(B_i) with A_i m x k
// (row-major) or, with the override A_TRANSPOSED (matmul_tn), stored k x m (C = A^T B), and B_i
// k x n or, with the override B_TRANSPOSED (matmul_nt), stored n x k (C = A B^T);
// C_i = c[i*m*n ...] is m x n and is overwritten, or added to when accumulate = 1.
// A_i = a[i*strideA ...], B_i = b[i*strideB ...] (stride 0 broadcasts).
// One workgroup of 16 x 16 invocations computes a 64 x 64 tile of C, 4 x 4 outputs each (rows
// ty + 16i, columns tx + 16j, so neighbours touch neighbouring words), stepping through k in
// slices of 16 staged in workgroup memory (8 KiB). The grid is clamped to 65535 groups per
// dimension; each group loops over the tiles and batches its position stands for. With at most
// 16 rows (SKINNY_ROWS) and A not transposed the kernel takes lib/matmul_skinny.wgsl's path
// instead (the grid then has one row of groups of 256 columns, engine/kernels/matmul.ts).
struct P { batch: u32, m: u32, n: u32, k: u32, strideA: u32, strideB: u32, accumulate: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
// B: f32, or f16 in the matmul_f16 and matmul_nt_f16 kernels (engine/kernels/f16.ts), read as
// f32 by loadB.
// #half-input b 1 loadB
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
override A_TRANSPOSED: bool = false;
override B_TRANSPOSED: bool = false;

const TILE: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> As: array<f32, 1024>; // [kk * 64 + row]
var<workgroup> Bs: array<f32, 1024>; // [kk * 64 + col]

/** Index of op(A)[row, kk] in A_i. */
fn aIndex(row: u32, kk: u32) -> u32 {
  if (A_TRANSPOSED) { return kk * p.m + row; }
  return row * p.k + kk;
}

/** Index of op(B)[kk, col] in B_i. */
fn bIndex(kk: u32, col: u32) -> u32 {
  if (B_TRANSPOSED) { return col * p.k + kk; }
  return kk * p.n + col;
}

// #include lib/matmul_skinny.wgsl

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (p.m <= SKINNY_ROWS && !A_TRANSPOSED) {
    skinny(wid, nwg, lid);
    return;
  }
  let tx = lid3.x;
  let ty = lid3.y;
  let tilesN = (p.n + TILE - 1u) / TILE;
  let tilesM = (p.m + TILE - 1u) / TILE;
  for (var bi = wid.z; bi < p.batch; bi += nwg.z) {
    let aOff = bi * p.strideA;
    let bOff = bi * p.strideB;
    let cOff = bi * p.m * p.n;
    for (var by = wid.y; by < tilesM; by += nwg.y) {
      for (var bx = wid.x; bx < tilesN; bx += nwg.x) {
        let row0 = by * TILE;
        let col0 = bx * TILE;
        var acc = array<vec4f, 4>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
        for (var k0 = 0u; k0 < p.k; k0 += TK) {
          for (var t = 0u; t < 4u; t++) {
            let e = lid + t * 256u;
            // Neighbouring invocations read neighbouring words of A and B as they are stored.
            {
              var r = e / 16u; var kk = e % 16u;
              if (A_TRANSPOSED) { kk = e / 64u; r = e % 64u; }
              var v = 0.0;
              if (row0 + r < p.m && k0 + kk < p.k) { v = a[aOff + aIndex(row0 + r, k0 + kk)]; }
              As[kk * TILE + r] = v;
            }
            {
              var kk = e / 64u; var q = e % 64u;
              if (B_TRANSPOSED) { q = e / 16u; kk = e % 16u; }
              var v = 0.0;
              if (k0 + kk < p.k && col0 + q < p.n) { v = loadB(bOff + bIndex(k0 + kk, col0 + q)); }
              Bs[kk * TILE + q] = v;
            }
          }
          workgroupBarrier();
          for (var kk = 0u; kk < TK; kk++) {
            let bv = vec4f(Bs[kk * TILE + tx], Bs[kk * TILE + tx + 16u],
                           Bs[kk * TILE + tx + 32u], Bs[kk * TILE + tx + 48u]);
            acc[0] = fma(vec4f(As[kk * TILE + ty]), bv, acc[0]);
            acc[1] = fma(vec4f(As[kk * TILE + ty + 16u]), bv, acc[1]);
            acc[2] = fma(vec4f(As[kk * TILE + ty + 32u]), bv, acc[2]);
            acc[3] = fma(vec4f(As[kk * TILE + ty + 48u]), bv, acc[3]);
          }
          workgroupBarrier();
        }
        for (var i = 0u; i < 4u; i++) {
          let row = row0 + ty + 16u * i;
          if (row < p.m) {
            for (var j = 0u; j < 4u; j++) {
              let col = col0 + tx + 16u * j;
              if (col < p.n) {
                let o = cOff + row * p.n + col;
                if (p.accumulate != 0u) { c[o] = c[o] + acc[i][j]; } else { c[o] = acc[i][j]; }
              }
            }
          }
        }
      }
    }
  }
}
