// AssemblyScript kernels that move selected units (rows or columns) of a matrix, for the masked
// update's compact optimizer state (specs in engine/kernels/units.ts):
//   gather_cols:  out[r, j] = x[r, ids[j]] (rows x k from rows x cols); an id outside [0, cols)
//                 or NaN gives a column of zeros.
//   scatter_rows: dst[ids[t], c] = src[t, c] (V x d from k x d); ids outside [0, V) or NaN skip.
//   scatter_cols: dst[r, ids[j]] = src[r, j] (rows x cols from rows x k); ids outside skip.
//   scatter_entries: dst[rowIds[i], colIds[i]] = src[i] (rows x cols from k); an entry with
//                 either id outside skips.
// Entries of dst no id selects are left as they are. The _f16 variants read x, or write dst, as
// f16: gather widens exactly, scatter rounds to the nearest f16, ties to even (./lib/half).
// The f32 kernels copy bits (NaN payloads included). Ids are f32 values truncated to integers.
// Pointers are byte offsets into the shared linear memory; element i of an f16 buffer is the u16
// at ptr + 2 * i. Single-threaded: these are small copies next to the matmuls.

import { halfBits, widen } from "./lib/half";

/** The unit an id stored as f32 selects, or -1 when it is outside [0, n) or NaN. */
// @ts-ignore: decorator
@inline
function unitOf(id: f32, n: i32): i32 {
  return id >= 0 && id < <f32>n ? min(<i32>id, n - 1) : -1;
}

// @ts-ignore: decorator
@inline
function at32(base: usize, i: usize): usize {
  return base + (i << 2);
}

// @ts-ignore: decorator
@inline
function at16(base: usize, i: usize): usize {
  return base + (i << 1);
}

/**
 * Element i of dst gets the f32 with bits v: the bits themselves (dst f32), or with `half` the
 * f16 nearest to it, ties to even.
 */
// @ts-ignore: decorator
@inline
function storeDst(dst: usize, i: usize, v: u32, half: bool): void {
  if (half) store<u16>(at16(dst, i), halfBits(reinterpret<f32>(v)));
  else store<u32>(at32(dst, i), v);
}

// ---- gather_cols ------------------------------------------------------------------------------

/** out[r * k + j] = x[r * cols + ids[j]] for r < rows, j < k; with `half` x is f16, widened. */
// @ts-ignore: decorator
@inline
function gatherCols(
  x: usize,
  ids: usize,
  out: usize,
  rows: i32,
  cols: i32,
  k: i32,
  half: bool,
): void {
  for (let r = 0; r < rows; r++) {
    const xr = <usize>r * <usize>cols, o = at32(out, <usize>r * <usize>k);
    for (let j = 0; j < k; j++) {
      const c = unitOf(load<f32>(at32(ids, j)), cols);
      let v: u32 = 0;
      if (c >= 0) {
        const i = xr + <usize>c;
        v = half ? reinterpret<u32>(widen(<u32>load<u16>(at16(x, i)))) : load<u32>(at32(x, i));
      }
      store<u32>(at32(o, j), v);
    }
  }
}

export function gather_cols(x: usize, ids: usize, out: usize, rows: i32, cols: i32, k: i32): void {
  gatherCols(x, ids, out, rows, cols, k, false);
}

export function gather_cols_f16(
  x: usize,
  ids: usize,
  out: usize,
  rows: i32,
  cols: i32,
  k: i32,
): void {
  gatherCols(x, ids, out, rows, cols, k, true);
}

// ---- scatter_rows -----------------------------------------------------------------------------

/** dst[ids[t] * d + c] = src[t * d + c] for t < k, c < d; with `half` dst is f16. */
// @ts-ignore: decorator
@inline
function scatterRows(src: usize, ids: usize, dst: usize, k: i32, d: i32, V: i32, half: bool): void {
  for (let t = 0; t < k; t++) {
    const row = unitOf(load<f32>(at32(ids, t)), V);
    if (row < 0) continue;
    const s = at32(src, <usize>t * <usize>d), o = <usize>row * <usize>d;
    let c = 0;
    if (!half) {
      for (; c + 4 <= d; c += 4) v128.store(at32(dst, o + <usize>c), v128.load(at32(s, c)));
    }
    for (; c < d; c++) storeDst(dst, o + <usize>c, load<u32>(at32(s, c)), half);
  }
}

export function scatter_rows(src: usize, ids: usize, dst: usize, k: i32, d: i32, V: i32): void {
  scatterRows(src, ids, dst, k, d, V, false);
}

export function scatter_rows_f16(
  src: usize,
  ids: usize,
  dst: usize,
  k: i32,
  d: i32,
  V: i32,
): void {
  scatterRows(src, ids, dst, k, d, V, true);
}

// ---- scatter_cols -----------------------------------------------------------------------------

/** dst[r * cols + ids[j]] = src[r * k + j] for r < rows, j < k; with `half` dst is f16. */
// @ts-ignore: decorator
@inline
function scatterCols(
  src: usize,
  ids: usize,
  dst: usize,
  rows: i32,
  cols: i32,
  k: i32,
  half: bool,
): void {
  for (let r = 0; r < rows; r++) {
    const s = at32(src, <usize>r * <usize>k), o = <usize>r * <usize>cols;
    for (let j = 0; j < k; j++) {
      const c = unitOf(load<f32>(at32(ids, j)), cols);
      if (c >= 0) storeDst(dst, o + <usize>c, load<u32>(at32(s, j)), half);
    }
  }
}

export function scatter_cols(
  src: usize,
  ids: usize,
  dst: usize,
  rows: i32,
  cols: i32,
  k: i32,
): void {
  scatterCols(src, ids, dst, rows, cols, k, false);
}

export function scatter_cols_f16(
  src: usize,
  ids: usize,
  dst: usize,
  rows: i32,
  cols: i32,
  k: i32,
): void {
  scatterCols(src, ids, dst, rows, cols, k, true);
}

// ---- scatter_entries --------------------------------------------------------------------------

/** dst[rowIds[i] * cols + colIds[i]] = src[i] for i < k; with `half` dst is f16. */
// @ts-ignore: decorator
@inline
function scatterEntries(
  src: usize,
  rowIds: usize,
  colIds: usize,
  dst: usize,
  k: i32,
  rows: i32,
  cols: i32,
  half: bool,
): void {
  for (let i = 0; i < k; i++) {
    const r = unitOf(load<f32>(at32(rowIds, i)), rows);
    const c = unitOf(load<f32>(at32(colIds, i)), cols);
    if (r >= 0 && c >= 0) {
      storeDst(dst, <usize>r * <usize>cols + <usize>c, load<u32>(at32(src, i)), half);
    }
  }
}

export function scatter_entries(
  src: usize,
  rowIds: usize,
  colIds: usize,
  dst: usize,
  k: i32,
  rows: i32,
  cols: i32,
): void {
  scatterEntries(src, rowIds, colIds, dst, k, rows, cols, false);
}

export function scatter_entries_f16(
  src: usize,
  rowIds: usize,
  colIds: usize,
  dst: usize,
  k: i32,
  rows: i32,
  cols: i32,
): void {
  scatterEntries(src, rowIds, colIds, dst, k, rows, cols, true);
}
