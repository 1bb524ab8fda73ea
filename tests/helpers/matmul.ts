// Shared pieces of the matmul kernel tests: the batched case shape, the float64 reference of
// each variant, the random case generator, and the shapes that exercise every way the WASM
// backend splits a product across threads.

import fc from "fast-check";

export type MatmulVariant = "matmul" | "matmul_tn" | "matmul_nt";

export interface Case {
  batch: number;
  m: number;
  n: number;
  k: number;
  strideA: number;
  strideB: number;
  accumulate: number;
}

/** Elements a batch of matrices spans (as the spec computes it). */
export function span(batch: number, stride: number, size: number): number {
  return batch === 0 || size === 0 ? 0 : (batch - 1) * stride + size;
}

/** float64 reference of a batched matmul variant; `c0` is C's prior content (accumulate). */
export function matmulRef(
  v: MatmulVariant,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  { batch, m, n, k, strideA, strideB, accumulate }: Case,
  c0?: ArrayLike<number>,
): Float64Array {
  const c = new Float64Array(batch * m * n);
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * strideA, bo = bi * strideB, co = bi * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = accumulate && c0 ? c0[co + i * n + j] : 0;
        for (let p = 0; p < k; p++) {
          const av = v === "matmul_tn" ? a[ao + p * m + i] : a[ao + i * k + p];
          const bv = v === "matmul_nt" ? b[bo + j * k + p] : b[bo + p * n + j];
          s += av * bv;
        }
        c[co + i * n + j] = s;
      }
    }
  }
  return c;
}

/** Each output's sum of term magnitudes (matmulRef of |a| and |b|): what float32 rounding scales with. */
export function termsOf(
  v: MatmulVariant,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  cs: Case,
  c0?: ArrayLike<number>,
): Float64Array {
  const abs = (x: ArrayLike<number>) => Array.from(x, Math.abs);
  return matmulRef(v, abs(a), abs(b), cs, c0 && abs(c0));
}

/** Random cases: sizes from 1 to maxDim, batch 1-3, strides dense, padded or 0 (broadcast). */
export function caseArb(maxDim: number, maxBatch = 3): fc.Arbitrary<Case> {
  const dim = fc.oneof(
    { arbitrary: fc.constant(1), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: maxDim }), weight: 6 },
  );
  return fc.record({
    batch: fc.integer({ min: 1, max: maxBatch }),
    m: dim,
    n: dim,
    k: dim,
    strideKindA: fc.constantFrom("dense", "padded", "broadcast"),
    strideKindB: fc.constantFrom("dense", "padded", "broadcast"),
    pad: fc.integer({ min: 1, max: 7 }),
    accumulate: fc.constantFrom(0, 1),
  }).map(({ batch, m, n, k, strideKindA, strideKindB, pad, accumulate }) => {
    const stride = (kind: string, size: number) =>
      kind === "broadcast" ? 0 : kind === "padded" ? size + pad : size;
    return {
      batch,
      m,
      n,
      k,
      strideA: stride(strideKindA, m * k),
      strideB: stride(strideKindB, k * n),
      accumulate,
    };
  });
}

/**
 * [batch, m, n, k, strideA, strideB] of products above the threading threshold that reach each
 * split: whole batches, row bands, column bands, edge tiles, streamed and packed B.
 */
export const SPLIT_SHAPES: readonly (readonly number[])[] = [
  [6, 48, 50, 64, 48 * 64, 0], // whole batches per thread
  [2, 130, 70, 90, 0, 70 * 90 + 3], // row bands, broadcast A
  [1, 64, 2304, 96, 0, 0], // column bands (m < n)
  [1, 301, 37, 257, 0, 0], // row bands with edge tiles
  [1, 200, 1000, 20, 0, 0], // column bands crossing NC
  [1, 3, 5000, 300, 0, 0], // column bands, B streamed (few rows)
  [3, 13, 3001, 100, 0, 0], // B streamed in passes of 4 rows, column tails
  [1, 16, 4000, 600, 0, 0], // few rows but B too large to stream: packed
];

/** Few-row shapes on both sides of the shaders' skinny path (m <= 16, 256-column groups, A
 * staged 64 deep), crossing its column and depth blocks, batched with strides and broadcasts. */
export const SKINNY_CASES: Case[] = [
  { batch: 1, m: 1, n: 513, k: 130, strideA: 0, strideB: 0, accumulate: 0 },
  { batch: 2, m: 4, n: 300, k: 65, strideA: 4 * 65, strideB: 0, accumulate: 1 },
  { batch: 1, m: 15, n: 257, k: 200, strideA: 0, strideB: 0, accumulate: 0 },
  { batch: 3, m: 16, n: 260, k: 64, strideA: 0, strideB: 260 * 64 + 3, accumulate: 1 },
  { batch: 1, m: 17, n: 300, k: 130, strideA: 0, strideB: 0, accumulate: 0 },
];
