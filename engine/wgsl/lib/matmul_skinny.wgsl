// Shared WGSL for matmul and matmul_nt (and their _f16 variants): C_i = A_i op(B_i) when A has
// few rows (m <= SKINNY_ROWS: a short prompt's or a few target rows' products), where the 64 x 64
// tile would compute mostly padding rows. One workgroup computes up to 16 rows x 256 columns of
// C, one column per invocation for every row, reading its column of op(B) once straight from
// memory, with A staged 64 deep in workgroup memory. The including file declares a, c, p, As
// (array<f32, 1024>), loadB and bIndex(kk, col) (B's element at depth kk, column col of op(B_i),
// batch offset excluded); included with `// #include lib/matmul_skinny.wgsl`.

const SKINNY_ROWS: u32 = 16u;
const SKINNY_COLS: u32 = 256u;
const SKINNY_K: u32 = 64u;

fn skinny(wid: vec3u, nwg: vec3u, lid: u32) {
  let tiles = (p.n + SKINNY_COLS - 1u) / SKINNY_COLS;
  for (var bi = wid.z; bi < p.batch; bi += nwg.z) {
    let aOff = bi * p.strideA;
    let bOff = bi * p.strideB;
    let cOff = bi * p.m * p.n;
    for (var bx = wid.x; bx < tiles; bx += nwg.x) {
      let col = bx * SKINNY_COLS + lid;
      var acc = array<vec4f, 4>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
      for (var k0 = 0u; k0 < p.k; k0 += SKINNY_K) {
        // As[kk * 16 + r] = A[r, k0 + kk], zero past m and k.
        for (var e = lid; e < SKINNY_ROWS * SKINNY_K; e += 256u) {
          let kk = e / SKINNY_ROWS;
          let r = e % SKINNY_ROWS;
          var v = 0.0;
          if (r < p.m && k0 + kk < p.k) { v = a[aOff + r * p.k + k0 + kk]; }
          As[e] = v;
        }
        workgroupBarrier();
        if (col < p.n) {
          let kn = min(SKINNY_K, p.k - k0);
          for (var kk = 0u; kk < kn; kk++) {
            let bv = vec4f(loadB(bOff + bIndex(k0 + kk, col)));
            let s = kk * SKINNY_ROWS;
            acc[0] = fma(vec4f(As[s], As[s + 1u], As[s + 2u], As[s + 3u]), bv, acc[0]);
            acc[1] = fma(vec4f(As[s + 4u], As[s + 5u], As[s + 6u], As[s + 7u]), bv, acc[1]);
            acc[2] = fma(vec4f(As[s + 8u], As[s + 9u], As[s + 10u], As[s + 11u]), bv, acc[2]);
            acc[3] = fma(vec4f(As[s + 12u], As[s + 13u], As[s + 14u], As[s + 15u]), bv, acc[3]);
          }
        }
        workgroupBarrier();
      }
      if (col < p.n) {
        for (var r = 0u; r < p.m; r++) {
          let o = cOff + r * p.n + col;
          let v = acc[r / 4u][r % 4u];
          if (p.accumulate != 0u) { c[o] = c[o] + v; } else { c[o] = v; }
        }
      }
    }
  }
}
