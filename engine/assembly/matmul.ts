// AssemblyScript kernels: matmul (C = A.B, A^T.B, A.B^T, batched, broadcast strides, optional
// accumulate), matmul_f16 / matmul_nt_f16 (B stored as f16), bias_add and sum_rows. Pointers are
// byte offsets into the shared linear memory.
//
// The matmuls are a GotoBLAS/BLIS-style GEMM: op(B) is packed in KC x NC blocks into panels of NR
// columns, op(A) in MC x KC blocks into panels of MR rows (zero-padded at the edges), so the three
// layouts share one register-blocked 6x8 f32x4 micro-kernel with relaxed-SIMD FMA. 6x8 measured
// best on this machine (41 GFLOP/s per core at 1024^3, the 128-bit FMA peak; 4x8 37, 8x8 32,
// 4x12 26). Matrices with few rows (matrix-vector products, short prompts) skip packing and
// stream B instead (smallRowsKN, smallRowsNT). Packing space is per instance: each thread's
// instance gets its own region through matmul_set_scratch (allocated by the host), and the host
// splits work by calling matmul_range. Each element's arithmetic is the same however the work
// is split, so results do not depend on the thread count.
//
// The f16 variants widen B to f32 as they pack it (packed path); with few rows they stream it,
// widened in registers as it is read when there are at most 4 rows (one pass), else a block at a
// time into the thread's widening area (read again by each pass of 4 rows). The f32 machinery
// runs on the widened values. Widening is exact and the depth is blocked as in the f32 kernels (at
// absolute multiples of KC), so matmul_f16 / matmul_nt_f16 give the very bits matmul / matmul_nt
// give on the widened B, on any number of threads (the one exception: matmul_nt_f16 with 5 to 16
// rows and a depth over WIDE splits the depth at multiples of WIDE, where matmul_nt does not).

import { f16_to_f32 } from "./f16";
import { widen, widen4 } from "./lib/half";
import { hsum } from "./lib/lanes";

/** Register tile rows. */
const MR: i32 = 6;
/** Register tile columns (two f32x4). */
const NR: i32 = 8;
/** Depth of a packed block (A panel MR x KC = 6 KiB, B panel KC x NR = 8 KiB: L1). */
const KC: i32 = 256;
/** Rows of a packed A block (120 KiB: L2); a multiple of MR. */
const MC: i32 = 120;
/** Columns of a packed B block (960 KiB); a multiple of NR. */
const NC: i32 = 960;

/** This instance's packing space (matmul_scratch_bytes() bytes), set by the host. */
let scratch: usize = 0;

/** Floats of a widened f16 block of B (after the f32 packing space). */
const WIDE: i32 = KC * NC;
/**
 * Floats of B the streamed f16 paths widen at a time (KC x 256, 256 KiB), meant to stay in L2
 * while every pass of 4 rows reads it again. Against the whole 960 KiB widening area the edit's
 * 15-row products measured within noise in `bench/matmul.ts` (bench/RESULTS.md).
 */
const STREAM_WIDE: i32 = KC * 256;
/** Up to this many rows the streamed f16 paths widen B in registers as they read it. */
const FUSED_ROWS: i32 = 4;

/** Bytes of packing space one thread needs: packed A, packed B, an edge tile, widened B. */
export function matmul_scratch_bytes(): i32 {
  return (MC * KC + KC * NC + MR * NR + WIDE) * 4;
}

/** Where the widened f16 block of B goes (past the f32 kernels' packing space). */
// @ts-ignore: decorator
@inline function wideArea(): usize {
  return scratch + (<usize>(MC * KC + KC * NC + MR * NR) << 2);
}

/** Widens rows x cols f16 at src (leading dimension ld elements) to f32 at dst (dense rows). */
function widenBlock(src: usize, ld: i32, rows: i32, cols: i32, dst: usize): void {
  const ldb = <usize>ld << 1, colsb = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    f16_to_f32(src + <usize>r * ldb, dst + <usize>r * colsb, cols);
  }
}

/** Sets this instance's (this thread's) packing space. */
export function matmul_set_scratch(ptr: usize): void {
  scratch = ptr;
}

// The 6x8 register tile: C[0..6, 0..8] (+)= packed A panel x packed B panel.
@inline function micro(pa: usize, pb: usize, kc: i32, c: usize, ldc: usize, add: bool): void {
  const z = f32x4.splat(0);
  let c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
  let c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb, 0);
    const b1 = v128.load(pb, 16);
    const a0 = v128.load32_splat(pa, 0);
    c00 = f32x4.relaxed_madd(a0, b0, c00);
    c01 = f32x4.relaxed_madd(a0, b1, c01);
    const a1 = v128.load32_splat(pa, 4);
    c10 = f32x4.relaxed_madd(a1, b0, c10);
    c11 = f32x4.relaxed_madd(a1, b1, c11);
    const a2 = v128.load32_splat(pa, 8);
    c20 = f32x4.relaxed_madd(a2, b0, c20);
    c21 = f32x4.relaxed_madd(a2, b1, c21);
    const a3 = v128.load32_splat(pa, 12);
    c30 = f32x4.relaxed_madd(a3, b0, c30);
    c31 = f32x4.relaxed_madd(a3, b1, c31);
    const a4 = v128.load32_splat(pa, 16);
    c40 = f32x4.relaxed_madd(a4, b0, c40);
    c41 = f32x4.relaxed_madd(a4, b1, c41);
    const a5 = v128.load32_splat(pa, 20);
    c50 = f32x4.relaxed_madd(a5, b0, c50);
    c51 = f32x4.relaxed_madd(a5, b1, c51);
    pa += 24;
    pb += 32;
  }
  if (add) {
    v128.store(c + 0 * ldc, f32x4.add(v128.load(c + 0 * ldc, 0), c00), 0);
    v128.store(c + 0 * ldc, f32x4.add(v128.load(c + 0 * ldc, 16), c01), 16);
    v128.store(c + 1 * ldc, f32x4.add(v128.load(c + 1 * ldc, 0), c10), 0);
    v128.store(c + 1 * ldc, f32x4.add(v128.load(c + 1 * ldc, 16), c11), 16);
    v128.store(c + 2 * ldc, f32x4.add(v128.load(c + 2 * ldc, 0), c20), 0);
    v128.store(c + 2 * ldc, f32x4.add(v128.load(c + 2 * ldc, 16), c21), 16);
    v128.store(c + 3 * ldc, f32x4.add(v128.load(c + 3 * ldc, 0), c30), 0);
    v128.store(c + 3 * ldc, f32x4.add(v128.load(c + 3 * ldc, 16), c31), 16);
    v128.store(c + 4 * ldc, f32x4.add(v128.load(c + 4 * ldc, 0), c40), 0);
    v128.store(c + 4 * ldc, f32x4.add(v128.load(c + 4 * ldc, 16), c41), 16);
    v128.store(c + 5 * ldc, f32x4.add(v128.load(c + 5 * ldc, 0), c50), 0);
    v128.store(c + 5 * ldc, f32x4.add(v128.load(c + 5 * ldc, 16), c51), 16);
  } else {
    v128.store(c + 0 * ldc, c00, 0);
    v128.store(c + 0 * ldc, c01, 16);
    v128.store(c + 1 * ldc, c10, 0);
    v128.store(c + 1 * ldc, c11, 16);
    v128.store(c + 2 * ldc, c20, 0);
    v128.store(c + 2 * ldc, c21, 16);
    v128.store(c + 3 * ldc, c30, 0);
    v128.store(c + 3 * ldc, c31, 16);
    v128.store(c + 4 * ldc, c40, 0);
    v128.store(c + 4 * ldc, c41, 16);
    v128.store(c + 5 * ldc, c50, 0);
    v128.store(c + 5 * ldc, c51, 16);
  }
}

@inline function transpose4(s: usize, ld: usize, d: usize, dstride: usize): void {
  const r0 = v128.load(s), r1 = v128.load(s + ld), r2 = v128.load(s + 2 * ld), r3 = v128.load(s + 3 * ld);
  const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(d, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(d + dstride, f32x4.shuffle(t0, t2, 2, 3, 6, 7));
  v128.store(d + 2 * dstride, f32x4.shuffle(t1, t3, 0, 1, 4, 5));
  v128.store(d + 3 * dstride, f32x4.shuffle(t1, t3, 2, 3, 6, 7));
}

// Packs the rows x cols block at src (row-major, leading dimension ld elements) transposed, into
// panels of W source rows: panel i holds, for each column p, the W values of rows iW..iW+W-1,
// zero beyond `rows`.
function packTrans(src: usize, ld: i32, rows: i32, cols: i32, W: i32, dst: usize): void {
  const ldb = <usize>ld << 2;
  const Wb = <usize>W << 2;
  for (let i = 0; i < rows; i += W) {
    const w = min(W, rows - i);
    const d = dst + ((<usize>i * <usize>cols) << 2);
    const s = src + <usize>i * ldb;
    if (w == W) {
      let r = 0;
      for (; r + 4 <= W; r += 4) {
        let p = 0;
        for (; p + 4 <= cols; p += 4) {
          transpose4(s + <usize>r * ldb + (<usize>p << 2), ldb, d + <usize>p * Wb + (<usize>r << 2), Wb);
        }
        for (; p < cols; p++) {
          for (let q = r; q < r + 4; q++) {
            store<f32>(d + <usize>p * Wb + (<usize>q << 2), load<f32>(s + <usize>q * ldb + (<usize>p << 2)));
          }
        }
      }
      for (; r < W; r++) {
        for (let p = 0; p < cols; p++) {
          store<f32>(d + <usize>p * Wb + (<usize>r << 2), load<f32>(s + <usize>r * ldb + (<usize>p << 2)));
        }
      }
    } else {
      for (let p = 0; p < cols; p++) {
        for (let r = 0; r < W; r++) {
          store<f32>(
            d + <usize>p * Wb + (<usize>r << 2),
            r < w ? load<f32>(s + <usize>r * ldb + (<usize>p << 2)) : 0,
          );
        }
      }
    }
  }
}

// Packs the rows x cols block at src (row-major, leading dimension ld) into panels of W columns:
// panel j holds, for each row p, the W values of columns jW..jW+W-1, zero beyond `cols`.
function packCopy(src: usize, ld: i32, rows: i32, cols: i32, W: i32, dst: usize): void {
  const ldb = <usize>ld << 2;
  const Wb = <usize>W << 2;
  for (let j = 0; j < cols; j += W) {
    const w = min(W, cols - j);
    let d = dst + ((<usize>j * <usize>rows) << 2);
    let s = src + (<usize>j << 2);
    if (w == W) {
      for (let p = 0; p < rows; p++) {
        let q = 0;
        for (; q + 4 <= W; q += 4) v128.store(d + (<usize>q << 2), v128.load(s + (<usize>q << 2)));
        for (; q < W; q++) store<f32>(d + (<usize>q << 2), load<f32>(s + (<usize>q << 2)));
        d += Wb;
        s += ldb;
      }
    } else {
      for (let p = 0; p < rows; p++) {
        for (let q = 0; q < W; q++) {
          store<f32>(d + (<usize>q << 2), q < w ? load<f32>(s + (<usize>q << 2)) : 0);
        }
        d += Wb;
        s += ldb;
      }
    }
  }
}

// packCopy for an f16 source into panels of NR (8) columns, widening on the way: one 16-byte
// load of 8 halves per panel row.
function packCopy16(src: usize, ld: i32, rows: i32, cols: i32, dst: usize): void {
  const ldb = <usize>ld << 1;
  const Wb = <usize>NR << 2;
  for (let j = 0; j < cols; j += NR) {
    const w = min(NR, cols - j);
    let d = dst + ((<usize>j * <usize>rows) << 2);
    let s = src + (<usize>j << 1);
    for (let p = 0; p < rows; p++) {
      if (w == NR) {
        const h = v128.load(s);
        v128.store(d, widen4(i32x4.extend_low_i16x8_u(h)));
        v128.store(d, widen4(i32x4.extend_high_i16x8_u(h)), 16);
      } else {
        for (let q = 0; q < NR; q++) {
          store<f32>(d + (<usize>q << 2), q < w ? widen(<u32>load<u16>(s + (<usize>q << 1))) : 0);
        }
      }
      d += Wb;
      s += ldb;
    }
  }
}

// packTrans for an f16 source into panels of NR source rows: each panel's rows are widened into
// the widening area (NR x cols floats, in L1) and packed from there.
function packTrans16(src: usize, ld: i32, rows: i32, cols: i32, dst: usize): void {
  const wide = wideArea();
  for (let i = 0; i < rows; i += NR) {
    const r = min(NR, rows - i);
    widenBlock(src + ((<usize>i * <usize>ld) << 1), ld, r, cols, wide);
    packTrans(wide, cols, r, cols, NR, dst + ((<usize>i * <usize>cols) << 2));
  }
}

/**
 * Rows of C up to which gemm streams B directly, 4 rows a pass, instead of packing it; up to
 * twice as many when B is at most SMALL_B floats and so stays in cache between passes.
 * Measured: 16 x 2304 x 768 35 GFLOP/s streamed vs 28 packed, 1 x 2304 x 768 9 vs 3.6, but
 * 16 x 3072 x 3072 (36 MiB of B) 19 streamed vs 25 packed.
 */
const SMALL_ROWS: i32 = 8;
const SMALL_B: u64 = 2 << 20;

@inline function put(o: usize, v: f32, add: bool): void {
  store<f32>(o, add ? load<f32>(o) + v : v);
}

@inline function put4(o: usize, v: v128, add: bool): void {
  v128.store(o, add ? f32x4.add(v128.load(o), v) : v);
}

// Loads of B's elements for the streamed kernels, which take B as f32 (T = f32) or as f16 bits
// (T = u16, widened exactly on the way, ./lib/half): the arithmetic on the loaded values is the
// same either way.

/** Four consecutive elements of B at p (bytes), as f32x4. */
// @ts-ignore: decorator
@inline function loadB4<T>(p: usize): v128 {
  if (sizeof<T>() == 2) return widen4(i32x4.extend_low_i16x8_u(v128.load64_zero(p)));
  return v128.load(p);
}

/** The element of B at p (bytes), as f32. */
// @ts-ignore: decorator
@inline function loadB<T>(p: usize): f32 {
  if (sizeof<T>() == 2) return widen(<u32>load<u16>(p));
  return load<f32>(p);
}

// Up to 4 rows of C, columns [j0, j1), for variants 0 and 1 (B is k x n), over one depth block of
// kc: A[r, p] is the f32 at a0 + r * rs + p * ps, B[p, j] at b + p * ldb + 4j, C[r, j] at
// c0 + r * ldc + 4j (bytes). B streams through once, 8 columns at a time, each load feeding every
// row. A matrix-vector product then runs at memory speed instead of paying for packing B. The
// caller blocks depth by KC so that one sweep over columns touches few pages (a whole-depth
// column sweep thrashes the TLB).
function smallRowsKN<T>(
  a0: usize, rs: usize, ps: usize, b: usize, ldb: usize, c0: usize, ldc: usize,
  kc: i32, rows: i32, j0: i32, j1: i32, add: bool,
): void {
  const a1 = rows > 1 ? a0 + rs : a0, a2 = rows > 2 ? a0 + 2 * rs : a0;
  const a3 = rows > 3 ? a0 + 3 * rs : a0;
  let j = j0;
  for (; j + 8 <= j1; j += 8) {
    const z = f32x4.splat(0);
    let x00 = z, x01 = z, x10 = z, x11 = z, x20 = z, x21 = z, x30 = z, x31 = z;
    let bp = b + <usize>j * sizeof<T>();
    let ap: usize = 0;
    for (let p = 0; p < kc; p++) {
      const b0 = loadB4<T>(bp), b1 = loadB4<T>(bp + 4 * sizeof<T>());
      const v0 = v128.load32_splat(a0 + ap), v1 = v128.load32_splat(a1 + ap);
      const v2 = v128.load32_splat(a2 + ap), v3 = v128.load32_splat(a3 + ap);
      x00 = f32x4.relaxed_madd(v0, b0, x00);
      x01 = f32x4.relaxed_madd(v0, b1, x01);
      x10 = f32x4.relaxed_madd(v1, b0, x10);
      x11 = f32x4.relaxed_madd(v1, b1, x11);
      x20 = f32x4.relaxed_madd(v2, b0, x20);
      x21 = f32x4.relaxed_madd(v2, b1, x21);
      x30 = f32x4.relaxed_madd(v3, b0, x30);
      x31 = f32x4.relaxed_madd(v3, b1, x31);
      bp += ldb;
      ap += ps;
    }
    const o = c0 + (<usize>j << 2);
    put4(o, x00, add);
    put4(o + 16, x01, add);
    if (rows > 1) {
      put4(o + ldc, x10, add);
      put4(o + ldc + 16, x11, add);
    }
    if (rows > 2) {
      put4(o + 2 * ldc, x20, add);
      put4(o + 2 * ldc + 16, x21, add);
    }
    if (rows > 3) {
      put4(o + 3 * ldc, x30, add);
      put4(o + 3 * ldc + 16, x31, add);
    }
  }
  for (; j < j1; j++) {
    for (let r = 0; r < rows; r++) {
      const ar = a0 + <usize>r * rs;
      let s: f32 = 0;
      for (let p = 0; p < kc; p++) {
        s += load<f32>(ar + <usize>p * ps) * loadB<T>(b + <usize>p * ldb + <usize>j * sizeof<T>());
      }
      put(c0 + <usize>r * ldc + (<usize>j << 2), s, add);
    }
  }
}

// Up to 4 rows of C for variant 2 (B stored n x k): dot products over depth k of rows of A (at
// a0 + r * lda) with rows of B (at b + j * ldb), two rows of B at a time, each load feeding every
// row of A; C[r, j] at c0 + r * ldc + 4j (bytes).
function smallRowsNT<T>(
  a0: usize, lda: usize, b: usize, ldb: usize, c0: usize, ldc: usize,
  k: i32, rows: i32, j0: i32, j1: i32, add: bool,
): void {
  const a1 = rows > 1 ? a0 + lda : a0, a2 = rows > 2 ? a0 + 2 * lda : a0;
  const a3 = rows > 3 ? a0 + 3 * lda : a0;
  for (let j = j0; j < j1; j += 2) {
    const pair = j + 1 < j1;
    const y0p = b + <usize>j * ldb;
    const y1p = pair ? y0p + ldb : y0p;
    const z = f32x4.splat(0);
    let x00 = z, x01 = z, x10 = z, x11 = z, x20 = z, x21 = z, x30 = z, x31 = z;
    let p = 0;
    for (; p + 4 <= k; p += 4) {
      const o = <usize>p << 2, ob = <usize>p * sizeof<T>();
      const y0 = loadB4<T>(y0p + ob), y1 = loadB4<T>(y1p + ob);
      const v0 = v128.load(a0 + o), v1 = v128.load(a1 + o);
      const v2 = v128.load(a2 + o), v3 = v128.load(a3 + o);
      x00 = f32x4.relaxed_madd(v0, y0, x00);
      x01 = f32x4.relaxed_madd(v0, y1, x01);
      x10 = f32x4.relaxed_madd(v1, y0, x10);
      x11 = f32x4.relaxed_madd(v1, y1, x11);
      x20 = f32x4.relaxed_madd(v2, y0, x20);
      x21 = f32x4.relaxed_madd(v2, y1, x21);
      x30 = f32x4.relaxed_madd(v3, y0, x30);
      x31 = f32x4.relaxed_madd(v3, y1, x31);
    }
    let s00 = hsum(x00), s01 = hsum(x01), s10 = hsum(x10), s11 = hsum(x11);
    let s20 = hsum(x20), s21 = hsum(x21), s30 = hsum(x30), s31 = hsum(x31);
    for (; p < k; p++) {
      const o = <usize>p << 2, ob = <usize>p * sizeof<T>();
      const y0 = loadB<T>(y0p + ob), y1 = loadB<T>(y1p + ob);
      const v0 = load<f32>(a0 + o), v1 = load<f32>(a1 + o);
      const v2 = load<f32>(a2 + o), v3 = load<f32>(a3 + o);
      s00 += v0 * y0;
      s01 += v0 * y1;
      s10 += v1 * y0;
      s11 += v1 * y1;
      s20 += v2 * y0;
      s21 += v2 * y1;
      s30 += v3 * y0;
      s31 += v3 * y1;
    }
    const o = c0 + (<usize>j << 2);
    put(o, s00, add);
    if (pair) put(o + 4, s01, add);
    if (rows > 1) {
      put(o + ldc, s10, add);
      if (pair) put(o + ldc + 4, s11, add);
    }
    if (rows > 2) {
      put(o + 2 * ldc, s20, add);
      if (pair) put(o + 2 * ldc + 4, s21, add);
    }
    if (rows > 3) {
      put(o + 3 * ldc, s30, add);
      if (pair) put(o + 3 * ldc + 4, s31, add);
    }
  }
}

// The streamed path with an f16 B stored k x n (matmul_f16): each KC x 256 block of B the rows
// need is widened once (STREAM_WIDE), then every pass of 4 rows streams the f32 copy. Columns keep
// their 8-column groups from j0 (jc - j0 is a multiple of 256) and depth its KC blocks, so each
// element takes the f32 path's arithmetic.
function smallRowsKN16(
  a: usize, b: usize, c: usize, n: i32, k: i32, i0: i32, i1: i32, j0: i32, j1: i32, acc: bool,
): void {
  const wide = wideArea();
  const rs = <usize>k << 2, ldc = <usize>n << 2;
  const NS = STREAM_WIDE / KC;
  for (let jc = j0; jc < j1; jc += NS) {
    const nc = min(NS, j1 - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      widenBlock(b + ((<usize>pc * <usize>n + <usize>jc) << 1), n, kc, nc, wide);
      const add = acc || pc > 0;
      for (let i = i0; i < i1; i += 4) {
        smallRowsKN<f32>(
          a + <usize>i * rs + (<usize>pc << 2), rs, 4, wide, <usize>nc << 2,
          c + <usize>i * ldc + (<usize>jc << 2), ldc, kc, min(4, i1 - i), 0, nc, add,
        );
      }
    }
  }
}

// The streamed path with an f16 B stored n x k (matmul_nt_f16): as many whole rows of B as fit
// in STREAM_WIDE floats (at least one) are widened, then every pass of 4 rows takes their dot
// products, over the whole depth as in the f32 path. Only a depth beyond the widening area (over
// WIDE) is split, at absolute multiples of WIDE.
function smallRowsNT16(
  a: usize, b: usize, c: usize, n: i32, k: i32, i0: i32, i1: i32, j0: i32, j1: i32, acc: bool,
): void {
  const wide = wideArea();
  const lda = <usize>k << 2, ldc = <usize>n << 2;
  const D = min(k, WIDE);
  const R = max(1, STREAM_WIDE / D);
  for (let jb = j0; jb < j1; jb += R) {
    const r = min(R, j1 - jb);
    for (let pd = 0; pd < k; pd += D) {
      const d = min(D, k - pd);
      widenBlock(b + ((<usize>jb * <usize>k + <usize>pd) << 1), k, r, d, wide);
      const add = acc || pd > 0;
      for (let i = i0; i < i1; i += 4) {
        smallRowsNT<f32>(
          a + <usize>i * lda + (<usize>pd << 2), lda, wide, <usize>d << 2,
          c + <usize>i * ldc + (<usize>jb << 2), ldc, d, min(4, i1 - i), 0, r, add,
        );
      }
    }
  }
}

// C[i0..i1, j0..j1] (+)= op(A) op(B) for one m x n matrix C, blocked for the caches.
// variant 0: A m x k, B k x n; 1: A stored k x m; 2: B stored n x k. half: B's elements are f16
// (variants 0 and 2 only), widened a block at a time into the thread's widening area.
function gemm(
  variant: i32, half: bool, a: usize, b: usize, c: usize, m: i32, n: i32, k: i32,
  i0: i32, i1: i32, j0: i32, j1: i32, acc: bool,
): void {
  const ldc = <usize>n << 2;
  if (k == 0) {
    if (!acc) {
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) store<f32>(c + <usize>i * ldc + (<usize>j << 2), 0);
      }
    }
    return;
  }
  // Decided on the whole matrix, not this thread's part, so that results never depend on how
  // many threads share the work.
  if (m <= SMALL_ROWS || (m <= 2 * SMALL_ROWS && <u64>k * <u64>n <= SMALL_B)) {
    if (half && m > FUSED_ROWS) {
      if (variant == 2) smallRowsNT16(a, b, c, n, k, i0, i1, j0, j1, acc);
      else smallRowsKN16(a, b, c, n, k, i0, i1, j0, j1, acc);
      return;
    }
    // Bytes per element of B.
    const eb: usize = half ? 2 : 4;
    const lda = <usize>k << 2, ldb = <usize>n * eb, ldbT = <usize>k * eb;
    // A[i, p] = a[i * rs + p * ps] (bytes).
    const rs: usize = variant == 1 ? 4 : lda;
    const ps: usize = variant == 1 ? <usize>m << 2 : 4;
    for (let i = i0; i < i1; i += 4) {
      const rows = min(4, i1 - i);
      const ai = a + <usize>i * rs, ci = c + <usize>i * ldc;
      if (variant == 2) {
        if (half) smallRowsNT<u16>(ai, lda, b, ldbT, ci, ldc, k, rows, j0, j1, acc);
        else smallRowsNT<f32>(ai, lda, b, ldbT, ci, ldc, k, rows, j0, j1, acc);
      } else {
        for (let pc = 0; pc < k; pc += KC) {
          const ap = ai + <usize>pc * ps, bp = b + <usize>pc * ldb, kc = min(KC, k - pc);
          const add = acc || pc > 0;
          if (half) smallRowsKN<u16>(ap, rs, ps, bp, ldb, ci, ldc, kc, rows, j0, j1, add);
          else smallRowsKN<f32>(ap, rs, ps, bp, ldb, ci, ldc, kc, rows, j0, j1, add);
        }
      }
    }
    return;
  }
  const packA = scratch;
  const packB = packA + (<usize>(MC * KC) << 2);
  const tile = packB + (<usize>(KC * NC) << 2);
  for (let jc = j0; jc < j1; jc += NC) {
    const nc = min(NC, j1 - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      if (variant == 2) {
        if (half) packTrans16(b + ((<usize>jc * <usize>k + <usize>pc) << 1), k, nc, kc, packB);
        else packTrans(b + ((<usize>jc * <usize>k + <usize>pc) << 2), k, nc, kc, NR, packB);
      } else if (half) {
        packCopy16(b + ((<usize>pc * <usize>n + <usize>jc) << 1), n, kc, nc, packB);
      } else {
        packCopy(b + ((<usize>pc * <usize>n + <usize>jc) << 2), n, kc, nc, NR, packB);
      }
      const add = acc || pc > 0;
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = min(MC, i1 - ic);
        if (variant == 1) {
          packCopy(a + ((<usize>pc * <usize>m + <usize>ic) << 2), m, kc, mc, MR, packA);
        } else {
          packTrans(a + ((<usize>ic * <usize>k + <usize>pc) << 2), k, mc, kc, MR, packA);
        }
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const pb = packB + ((<usize>jr * <usize>kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const pa = packA + ((<usize>ir * <usize>kc) << 2);
            const cp = c + <usize>(ic + ir) * ldc + (<usize>(jc + jr) << 2);
            if (mr == MR && nr == NR) {
              micro(pa, pb, kc, cp, ldc, add);
            } else {
              micro(pa, pb, kc, tile, <usize>NR << 2, false);
              for (let r = 0; r < mr; r++) {
                for (let j = 0; j < nr; j++) {
                  const o = cp + <usize>r * ldc + (<usize>j << 2);
                  const t = load<f32>(tile + ((<usize>(r * NR + j)) << 2));
                  store<f32>(o, add ? load<f32>(o) + t : t);
                }
              }
            }
          }
        }
      }
    }
  }
}

/**
 * The part of a batched matmul that one thread computes: batches [b0, b1), rows [i0, i1) and
 * columns [j0, j1) of each C_i (variant 0: matmul, 1: matmul_tn, 2: matmul_nt, 3: matmul_f16,
 * 4: matmul_nt_f16).
 */
export function matmul_range(
  variant: i32, a: usize, b: usize, c: usize, batch: i32, m: i32, n: i32, k: i32,
  strideA: i32, strideB: i32, accumulate: i32, b0: i32, b1: i32, i0: i32, i1: i32, j0: i32, j1: i32,
): void {
  const half = variant >= 3;
  const v = variant == 3 ? 0 : variant == 4 ? 2 : variant;
  const mn = <usize>m * <usize>n;
  for (let bi = b0; bi < b1; bi++) {
    gemm(
      v,
      half,
      a + ((<usize>bi * <usize>strideA) << 2),
      b + ((<usize>bi * <usize>strideB) << (half ? 1 : 2)),
      c + ((<usize>bi * mn) << 2),
      m, n, k, i0, i1, j0, j1, accumulate != 0,
    );
  }
}

export function matmul(
  a: usize, b: usize, c: usize, batch: i32, m: i32, n: i32, k: i32,
  strideA: i32, strideB: i32, accumulate: i32,
): void {
  matmul_range(0, a, b, c, batch, m, n, k, strideA, strideB, accumulate, 0, batch, 0, m, 0, n);
}

export function matmul_tn(
  a: usize, b: usize, c: usize, batch: i32, m: i32, n: i32, k: i32,
  strideA: i32, strideB: i32, accumulate: i32,
): void {
  matmul_range(1, a, b, c, batch, m, n, k, strideA, strideB, accumulate, 0, batch, 0, m, 0, n);
}

export function matmul_nt(
  a: usize, b: usize, c: usize, batch: i32, m: i32, n: i32, k: i32,
  strideA: i32, strideB: i32, accumulate: i32,
): void {
  matmul_range(2, a, b, c, batch, m, n, k, strideA, strideB, accumulate, 0, batch, 0, m, 0, n);
}

/** matmul with B stored as f16 (B_i starts at b + 2 * i * strideB bytes); f32 arithmetic. */
export function matmul_f16(
  a: usize, b: usize, c: usize, batch: i32, m: i32, n: i32, k: i32,
  strideA: i32, strideB: i32, accumulate: i32,
): void {
  matmul_range(3, a, b, c, batch, m, n, k, strideA, strideB, accumulate, 0, batch, 0, m, 0, n);
}

/** matmul_nt with B stored as f16 (B_i starts at b + 2 * i * strideB bytes); f32 arithmetic. */
export function matmul_nt_f16(
  a: usize, b: usize, c: usize, batch: i32, m: i32, n: i32, k: i32,
  strideA: i32, strideB: i32, accumulate: i32,
): void {
  matmul_range(4, a, b, c, batch, m, n, k, strideA, strideB, accumulate, 0, batch, 0, m, 0, n);
}

/** out[r, c] = x[r, c] + bias[c]. */
export function bias_add(x: usize, bias: usize, out: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes, or = out + <usize>r * rowBytes;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2;
      v128.store(or + o, f32x4.add(v128.load(xr + o), v128.load(bias + o)));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      store<f32>(or + o, load<f32>(xr + o) + load<f32>(bias + o));
    }
  }
}

/** out[c] = (accumulate ? out[c] : 0) + sum over r of x[r, c]. */
export function sum_rows(x: usize, out: usize, rows: i32, cols: i32, accumulate: i32): void {
  const rowBytes = <usize>cols << 2;
  // Column blocks of 1024 keep the running sums in L1 while the rows stream past.
  for (let c0 = 0; c0 < cols; c0 += 1024) {
    const c1 = min(cols, c0 + 1024);
    if (accumulate == 0) {
      for (let c = c0; c < c1; c++) store<f32>(out + (<usize>c << 2), 0);
    }
    for (let r = 0; r < rows; r++) {
      const xr = x + <usize>r * rowBytes;
      let c = c0;
      for (; c + 4 <= c1; c += 4) {
        const o = <usize>c << 2;
        v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(xr + o)));
      }
      for (; c < c1; c++) {
        const o = <usize>c << 2;
        store<f32>(out + o, load<f32>(out + o) + load<f32>(xr + o));
      }
    }
  }
}
