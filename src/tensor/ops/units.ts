// Tensor ops of the unit kernels (engine/kernels/units.ts): gather_cols (gatherUnits; its rows
// are embedding's), scatter_rows and scatter_cols (scatterUnits), scatter_entries (writeEntries),
// each with its f16 variant; unitMatrix gives the matrix they take.

import { chunkRows, op } from "../chunk.ts";
import { shapeStr, Tensor } from "../tensor.ts";
import { fail, reg, sameBackend } from "./dispatch.ts";
import { embedding, vocabChunks } from "./layout.ts";

/** Ids travel as f32 values: integers up to 2^24 are exact. */
const MAX_EXACT_ID = 2 ** 24;

/** The first position of the ascending `xs` whose value is at least `v`. */
function lowerBound(xs: Uint32Array, v: number): number {
  let lo = 0, hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Writes values[i] into entry indices[i] of t (flat indices, ascending and distinct; rounded to
 * the nearest f16 when t is f16, its other entries keeping their bits): one upload of the entries
 * and one scatter_entries dispatch per chunk of rows under the binding limit, however scattered
 * the entries are (an edit's changes to the columns of a weight touch every row).
 */
export function writeEntries(t: Tensor, indices: Uint32Array, values: Float32Array): void {
  const k = indices.length;
  if (values.length !== k) fail("writeEntries", `${k} indices but ${values.length} values`);
  for (let i = 0; i < k; i++) {
    if (indices[i] >= t.size || (i > 0 && indices[i] <= indices[i - 1])) {
      fail(
        "writeEntries",
        `index ${indices[i]} at ${i} is not ascending within [0, ${t.size}) (after ${
          i > 0 ? indices[i - 1] : "none"
        })`,
      );
    }
  }
  if (k === 0) return;
  // As unitMatrix sees it (a vector is one row).
  const [rows, cols] = t.rank === 2 ? t.shape : [1, t.size];
  if (rows > MAX_EXACT_ID || cols > MAX_EXACT_ID) {
    fail("writeEntries", `a ${rows} x ${cols} matrix has ids beyond f32's exact integers`);
  }
  const be = t.backend;
  const kernel = t.dtype === "f16" ? "scatter_entries_f16" : "scatter_entries";
  chunkRows("scatter_entries", be, rows, [op(reg(t), cols, "inout")], (bind, r0, rn) => {
    const first = lowerBound(indices, r0 * cols), end = lowerBound(indices, (r0 + rn) * cols);
    for (let s = first; s < end; s += be.maxBindingElements) {
      const n = Math.min(end - s, be.maxBindingElements);
      const rowIds = new Float32Array(n), colIds = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const e = indices[s + i], r = Math.floor(e / cols);
        rowIds[i] = r - r0;
        colIds[i] = e - r * cols;
      }
      const parts = [values.subarray(s, s + n), rowIds, colIds].map((a) =>
        Tensor.fromArray(be, a, [n])
      );
      try {
        be.dispatch(kernel, [...parts.map((p) => p.buffer), bind[0]], [n, rn, cols]);
      } finally {
        for (const p of parts) p.free();
      }
    }
  });
}

/**
 * `t` as the matrix gatherUnits and scatterUnits take: a view of it when it is 2-D, else a view
 * as one row [1, n] (a bias, whose units are its entries). The caller frees the view.
 */
export function unitMatrix(t: Tensor): Tensor {
  return t.rank === 2 ? t.reshape(t.shape) : t.reshape([1, t.size]);
}

/**
 * Units of the matrix x [rows, cols] (f32 or f16): with axis 0 the rows `ids`, as f32 [k, cols];
 * with axis 1 the columns `ids`, as f32 [rows, k]. ids are f32 values; one outside the axis
 * gives zeros.
 */
export function gatherUnits(x: Tensor, ids: Tensor, axis: 0 | 1): Tensor {
  sameBackend("gatherUnits", x, ids);
  if (x.rank !== 2 || ids.rank !== 1) {
    fail(
      "gatherUnits",
      `expected a matrix and a list, got ${shapeStr(x.shape)}, ${shapeStr(ids.shape)}`,
    );
  }
  if (axis === 0) return embedding(x, ids);
  const [rows, cols] = x.shape;
  const k = ids.size;
  const be = x.backend;
  const out = Tensor.empty(be, [rows, k]);
  const kernel = x.dtype === "f16" ? "gather_cols_f16" : "gather_cols";
  chunkRows(
    "gather_cols",
    be,
    rows,
    [op(reg(x), cols, "in"), op(reg(ids), 0, "in"), op(reg(out), k, "out")],
    (b, _r0, rn) => be.dispatch(kernel, b, [rn, cols, k]),
  );
  return out;
}

/**
 * Writes the compact f32 `src` (gatherUnits' layout) into the units `ids` of the matrix dst in
 * place, rounding to nearest even when dst is f16; every other entry keeps its bits. ids must be
 * distinct; one outside the axis is skipped.
 */
export function scatterUnits(dst: Tensor, src: Tensor, ids: Tensor, axis: 0 | 1): void {
  sameBackend("scatterUnits", dst, src, ids);
  if (dst.rank !== 2 || ids.rank !== 1) {
    fail(
      "scatterUnits",
      `expected a matrix and a list, got ${shapeStr(dst.shape)}, ${shapeStr(ids.shape)}`,
    );
  }
  const [rows, cols] = dst.shape;
  const k = ids.size;
  const want = axis === 0 ? [k, cols] : [rows, k];
  if (src.dtype !== "f32" || src.size !== want[0] * want[1]) {
    fail("scatterUnits", `src ${shapeStr(src.shape)} ${src.dtype} is not f32 [${want}]`);
  }
  if (src.size === 0) return;
  const be = dst.backend;
  const half = dst.dtype === "f16" ? "_f16" : "";
  if (axis === 1) {
    chunkRows(
      "scatter_cols",
      be,
      rows,
      [op(reg(src), k, "in"), op(reg(ids), 0, "in"), op(reg(dst), cols, "inout")],
      (b, _r0, rn) => be.dispatch(`scatter_cols${half}`, b, [rn, cols, k]),
    );
    return;
  }
  vocabChunks("scatter_rows", reg(dst), rows, cols, ids, (part, vn, shifted) => {
    chunkRows(
      "scatter_rows",
      be,
      k,
      [op(reg(src), cols, "in"), op(reg(shifted), 1, "in"), op(part, 0, "inout")],
      (b, _r0, n) => be.dispatch(`scatter_rows${half}`, b, [n, cols, vn]),
    );
  });
}
