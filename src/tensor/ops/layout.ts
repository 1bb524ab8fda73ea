// Tensor ops of the layout kernels (engine/kernels/layout.ts): embedding (and embedding_f16),
// embedding_backward, rope, transpose_0213, repeat_kv and its backward, and copy_cols (copyCols,
// sliceCols). vocabChunks, the split of a table over the vocabulary, also serves scatter_rows
// (src/tensor/ops/units.ts).

import type { Backend } from "../../../engine/backend.ts";
import { chunkRows, copyColsRegion, op, type Region, sub } from "../chunk.ts";
import { shapeStr, Tensor } from "../tensor.ts";
import { add, fill } from "./basic.ts";
import { fail, reg, rowKernel, rowsCols, sameBackend } from "./dispatch.ts";
import { axpy } from "./pointwise.ts";

/**
 * Vocabulary chunks [v0, v0+vn) of a [V, d] table for the binding limit (whole table when it
 * fits), each with the ids shifted by -v0 so that ids of other chunks fall outside [0, vn) and
 * are skipped (backward) or give zero rows (forward).
 */
export function vocabChunks(
  what: string,
  table: Region,
  v: number,
  d: number,
  ids: Tensor,
  fn: (rows: Region, vn: number, shifted: Tensor) => void,
): void {
  const be = ids.backend;
  if (table.length <= be.maxBindingElements) {
    fn(table, v, ids);
    return;
  }
  const per = rowsPerChunkFor(what, be, v, table, d);
  const neg = Tensor.empty(be, ids.shape);
  try {
    for (let v0 = 0; v0 < v; v0 += per) {
      const vn = Math.min(per, v - v0);
      fill(neg, -v0);
      const shifted = v0 === 0 ? ids : add(ids, neg);
      try {
        fn(sub(table, v0 * d, vn * d), vn, shifted);
      } finally {
        if (shifted !== ids) shifted.free();
      }
    }
  } finally {
    neg.free();
  }
}

/** Rows per chunk of a row-major region under the binding limit (aligned when possible). */
function rowsPerChunkFor(what: string, be: Backend, rows: number, r: Region, cols: number): number {
  let per = 0;
  chunkRows(what, be, rows, [op(r, cols, "in")], (_b, r0, rn) => {
    if (r0 === 0) per = rn;
  });
  return per;
}

/** Rows of `table` [V, d] (f32 or f16) picked by `ids` (f32 values), as f32 [...ids.shape, d]. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  sameBackend("embedding", table, ids);
  const [v, d] = rowsCols(table);
  const be = table.backend;
  const out = Tensor.empty(be, [...ids.shape, d]);
  if (out.size === 0) return out;
  const kernel = table.dtype === "f16" ? "embedding_f16" : "embedding";
  // Over vocabulary chunks each token's row comes from exactly one chunk and the others give
  // zero rows, so adding up the chunk results is exact.
  let part: Tensor | null = null;
  try {
    vocabChunks("embedding", reg(table), v, d, ids, (rows, vn, shifted) => {
      const dst: Tensor = part === null && rows.offset === 0
        ? out
        : (part ??= Tensor.empty(be, out.shape));
      chunkRows(
        "embedding",
        be,
        ids.size,
        [op(rows, 0, "in"), op(reg(shifted), 1, "in"), op(reg(dst), d, "out")],
        (b, _r0, n) => be.dispatch(kernel, b, [n, d, vn]),
      );
      if (dst !== out) axpy(out, dst, 1);
    });
  } finally {
    (part as Tensor | null)?.free();
  }
  return out;
}

/** dtable[ids[t]] += dout[t]. */
export function embeddingBackward(ids: Tensor, dout: Tensor, dtable: Tensor): void {
  const [v, d] = rowsCols(dtable);
  if (dout.size !== ids.size * d) {
    fail(
      "embedding_backward",
      `dout ${shapeStr(dout.shape)} does not match ids ${shapeStr(ids.shape)}`,
    );
  }
  if (dout.size === 0) return;
  const be = dtable.backend;
  vocabChunks("embedding_backward", reg(dtable), v, d, ids, (rows, vn, shifted) => {
    chunkRows(
      "embedding_backward",
      be,
      ids.size,
      [op(reg(shifted), 1, "in"), op(reg(dout), d, "in"), op(rows, 0, "inout")],
      (b, _r0, n) => be.dispatch("embedding_backward", b, [n, d, vn]),
    );
  });
}

/**
 * Rotary embedding of x [batch, T, H, Dh] with the inverse frequencies `invFreq`
 * (src/model/rope.ts): Dh/2 of them rotate whole heads; fewer, Dr/2, rotate each head's first Dr
 * values and leave the rest (GPT-NeoX's partial rotary). sign -1 applies the inverse rotation.
 * Pairs are (i, i + Dr/2) (rotate_half), or (2i, 2i + 1) when `interleaved` (GPT-J).
 */
export function rope(
  x: Tensor,
  posOffset: number,
  invFreq: Tensor,
  sign = 1,
  interleaved = false,
): Tensor {
  if (x.rank !== 4 || x.shape[3] % 2 !== 0) {
    fail("rope", `expected [batch, T, heads, even head dim], got ${shapeStr(x.shape)}`);
  }
  if (invFreq.rank !== 1 || invFreq.size < 1 || 2 * invFreq.size > x.shape[3]) {
    fail(
      "rope",
      `expected 1 to ${x.shape[3] / 2} inverse frequencies, got ${shapeStr(invFreq.shape)}`,
    );
  }
  const dr = 2 * invFreq.size, pairs = interleaved ? 1 : 0;
  const freqs = op(reg(invFreq), 0, "in");
  const [b, t, h, dh] = x.shape;
  const be = x.backend;
  const out = Tensor.empty(be, x.shape);
  if (x.size === 0) return out;
  const seq = t * h * dh;
  if (seq <= be.maxBindingElements) {
    // Chunks of whole sequences.
    const operands = [op(reg(x), seq, "in"), freqs, op(reg(out), seq, "out")];
    chunkRows("rope", be, b, operands, (bd, _r0, bn) => {
      be.dispatch("rope", bd, [bn, t, h, dh, dr, posOffset, sign, pairs]);
    });
    return out;
  }
  // One sequence at a time, in chunks of positions.
  for (let i = 0; i < b; i++) {
    const row = h * dh;
    chunkRows(
      "rope",
      be,
      t,
      [
        op(sub(reg(x), i * seq, seq), row, "in"),
        freqs,
        op(sub(reg(out), i * seq, seq), row, "out"),
      ],
      (bd, t0, tn) => be.dispatch("rope", bd, [1, tn, h, dh, dr, posOffset + t0, sign, pairs]),
    );
  }
  return out;
}

/** [A, B, C, D] -> [A, C, B, D]. */
export function transpose0213(x: Tensor): Tensor {
  if (x.rank !== 4) fail("transpose_0213", `expected a 4-D tensor, got ${shapeStr(x.shape)}`);
  const [a, b, c, d] = x.shape;
  const be = x.backend;
  const out = Tensor.empty(be, [a, c, b, d]);
  if (x.size === 0) return out;
  const slab = b * c * d;
  if (slab <= be.maxBindingElements) {
    chunkRows(
      "transpose_0213",
      be,
      a,
      [op(reg(x), slab, "in"), op(reg(out), slab, "out")],
      (bd, _r0, an) => be.dispatch("transpose_0213", bd, [an, b, c, d]),
    );
    return out;
  }
  // One slab at a time: transpose b-chunks of x[i] into [C, bn, D] and place them as columns of
  // out[i] viewed as [C, B*D].
  const bn = Math.floor(be.maxBindingElements / (c * d));
  if (bn < 1) {
    fail(
      "transpose_0213",
      `a [${c}, ${d}] block of ${
        shapeStr(x.shape)
      } exceeds the binding limit of ${be.maxBindingElements} elements`,
    );
  }
  const tmp = Tensor.empty(be, [Math.min(bn, b) * c * d]);
  try {
    for (let i = 0; i < a; i++) {
      for (let b0 = 0; b0 < b; b0 += bn) {
        const n = Math.min(bn, b - b0);
        const src = sub(reg(x), i * slab + b0 * c * d, n * c * d);
        const dst = sub(reg(tmp), 0, n * c * d);
        chunkRows("transpose_0213", be, 1, [op(src, 0, "in"), op(dst, 0, "out")], (bd) => {
          be.dispatch("transpose_0213", bd, [1, n, c, d]);
        });
        copyColsRegion(be, c, dst, n * d, 0, sub(reg(out), i * slab, slab), b * d, b0 * d, n * d);
      }
    }
  } finally {
    tmp.free();
  }
  return out;
}

/** [A, Hkv, T, D] -> [A, Hkv*g, T, D], each kv head repeated g times. */
export function repeatKv(x: Tensor, g: number): Tensor {
  if (x.rank !== 4) fail("repeat_kv", `expected a 4-D tensor, got ${shapeStr(x.shape)}`);
  const [a, hkv, t, d] = x.shape;
  const out = Tensor.empty(x.backend, [a, hkv * g, t, d]);
  // Rows are (batch, kv head) pairs: t*d elements in, g*t*d out.
  if (x.size > 0) {
    rowKernel(
      "repeat_kv",
      a * hkv,
      [[x, t * d, "in"], [out, g * t * d, "out"]],
      (rn) => [1, rn, g, t, d],
    );
  }
  return out;
}

export function repeatKvBackward(dout: Tensor, g: number): Tensor {
  const [a, h, t, d] = dout.shape;
  if (dout.rank !== 4 || h % g !== 0) {
    fail("repeat_kv_backward", `cannot fold ${shapeStr(dout.shape)} by ${g}`);
  }
  const dx = Tensor.empty(dout.backend, [a, h / g, t, d]);
  if (dx.size > 0) {
    rowKernel(
      "repeat_kv_backward",
      a * (h / g),
      [[dout, g * t * d, "in"], [dx, t * d, "out"]],
      (rn) => [1, rn, g, t, d],
    );
  }
  return dx;
}

/** Copies columns [srcOffset, srcOffset+width) of x [rows, *] into columns of `into` [rows, *]. */
export function copyCols(
  x: Tensor,
  srcOffset: number,
  width: number,
  into: Tensor,
  dstOffset: number,
): void {
  const [rows, srcCols] = rowsCols(x);
  const [rowsOut, dstCols] = rowsCols(into);
  if (rows !== rowsOut || srcOffset + width > srcCols || dstOffset + width > dstCols) {
    fail(
      "copy_cols",
      `cannot copy ${width} columns from ${srcOffset} of ${shapeStr(x.shape)} to ${dstOffset} of ${
        shapeStr(into.shape)
      }`,
    );
  }
  copyColsRegion(x.backend, rows, reg(x), srcCols, srcOffset, reg(into), dstCols, dstOffset, width);
}

/** Columns [offset, offset+width) of x as a new [..., width] tensor. */
export function sliceCols(x: Tensor, offset: number, width: number): Tensor {
  const out = Tensor.empty(x.backend, [...x.shape.slice(0, -1), width]);
  copyCols(x, offset, width, out, 0);
  return out;
}
