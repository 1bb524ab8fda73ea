// How the WASM backend splits one kernel call across its threads: a batched matmul into bands of
// C, a kernel of independent pieces (rows, elements; KernelSpec.pieces) into ranges of them.

import type { KernelParams } from "../backend.ts";
import { type KernelSpec, namedParams } from "../kernels/spec.ts";

/**
 * matmul kernels that run through matmul_range on several threads, by variant number (the f16
 * ones read B as f16; engine/assembly/matmul.ts).
 */
export const MATMUL_VARIANTS: ReadonlyMap<string, number> = new Map([
  ["matmul", 0],
  ["matmul_tn", 1],
  ["matmul_nt", 2],
  ["matmul_f16", 3],
  ["matmul_nt_f16", 4],
]);

/**
 * Below this many multiply-adds (batch*m*n*k) a matmul runs on the calling thread alone: waking a
 * worker and waiting for it costs tens of microseconds, more than it saves on small products.
 * Measured on the 2-core machine: see bench/RESULTS.md.
 */
export const MIN_PARALLEL_MACS = 96 * 96 * 96;

/**
 * Below this much work (pieces times the widest binding's elements per piece, times the kernel's
 * cost per element) a kernel of pieces runs on the calling thread alone, for the same reason:
 * 2^18 elements of an add, 2^15 of a GELU. Measured on the 2-core machine: see bench/RESULTS.md.
 */
export const MIN_PARALLEL_ELEMENTS = 1 << 18;

/** Register tile of the AssemblyScript kernel (engine/assembly/matmul.ts): row bands align to it. */
const MR = 6;
/** Column bands align to 16 floats (64 bytes), so threads never write the same cache line. */
const COL_ALIGN = 16;

/** [b0, b1, i0, i1, j0, j1]: batches, rows and columns of C one thread computes. */
export type Range = [number, number, number, number, number, number];

function bands(total: number, parts: number, align: number): [number, number][] {
  const units = Math.ceil(total / align);
  const out: [number, number][] = [];
  let start = 0;
  for (let t = 0; t < parts && start < total; t++) {
    const end = Math.min(total, Math.round((units * (t + 1)) / parts) * align);
    if (end > start) out.push([start, end]);
    start = Math.max(start, end);
  }
  return out;
}

/**
 * Splits C (batch x m x n) into at most `threads` ranges of about equal work. Whole batches when
 * there are enough of them to balance; otherwise bands of rows or of columns of every matrix,
 * whichever dimension is larger (each thread packs the whole of the operand it does not split,
 * so splitting the larger side duplicates the smaller packing).
 */
export function splitMatmul(batch: number, m: number, n: number, threads: number): Range[] {
  if (threads <= 1 || batch * m * n === 0) return [[0, batch, 0, m, 0, n]];
  if (batch % threads === 0 || batch >= 4 * threads) {
    return bands(batch, threads, 1).map(([b0, b1]) => [b0, b1, 0, m, 0, n]);
  }
  if (m >= n) return bands(m, threads, MR).map(([i0, i1]) => [0, batch, i0, i1, 0, n]);
  return bands(n, threads, COL_ALIGN).map(([j0, j1]) => [0, batch, 0, m, j0, j1]);
}

/** One call of a kernel over a range of its pieces: byte pointers and params. */
export interface PieceCall {
  ptrs: number[];
  params: number[];
}

/**
 * The calls that run `spec` (with byte pointers `ptrs` to bindings of `bytesPer(i)` bytes per
 * element, asked only when the call is split) as at most `threads` ranges of its pieces, or null
 * when it is one piece, too small (under `minElements` of work), or not split into more than one
 * range.
 */
export function splitPieces(
  spec: KernelSpec,
  ptrs: readonly number[],
  bytesPer: (binding: number) => number,
  params: KernelParams,
  threads: number,
  minElements = MIN_PARALLEL_ELEMENTS,
): PieceCall[] | null {
  const pieces = spec.pieces;
  if (!pieces || threads <= 1) return null;
  const p = namedParams(spec, params);
  const count = p[pieces.over];
  const strides = pieces.strides(p);
  if (count * Math.max(1, ...strides) * (pieces.cost ?? 1) < minElements) return null;
  const ranges = bands(count, threads, Math.max(1, pieces.align?.(p) ?? 1));
  if (ranges.length < 2) return null;
  const at = spec.params.findIndex(([name]) => name === pieces.over);
  return ranges.map(([a, b]) => ({
    ptrs: ptrs.map((ptr, i) => ptr + a * strides[i] * bytesPer(i)),
    params: params.map((v, i) => i === at ? b - a : v),
  }));
}
