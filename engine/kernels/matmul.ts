// Specs of the matmul kernels and the two bias helpers that go with a linear layer.
//
// matmul, matmul_tn, matmul_nt: for each i < batch, C_i = op(A_i) op(B_i) (or C_i += ... when
// accumulate = 1), with A_i = a[i*strideA ...], B_i = b[i*strideB ...], C_i = c[i*m*n ...] (m x n,
// row-major). A stride of 0 broadcasts one matrix across the batch.
//   matmul:    A_i is m x k,             B_i is k x n
//   matmul_tn: A_i is stored k x m (C = A^T B), B_i is k x n
//   matmul_nt: A_i is m x k,             B_i is stored n x k (C = A B^T)
// bias_add: out[r, c] = x[r, c] + bias[c].
// sum_rows: out[c] = (accumulate ? out[c] : 0) + sum_r x[r, c] (a bias gradient).

import { grid1d, type KernelSpec, MAX_GROUPS_PER_DIM, rowPieces } from "./spec.ts";

/** Output tile of one WebGPU workgroup in the matmul shaders (64 x 64, 4 x 4 per invocation). */
export const MATMUL_TILE = 64;
/**
 * matmul and matmul_nt with at most this many rows take the shaders' skinny path
 * (engine/wgsl/lib/matmul_skinny.wgsl): a workgroup computes every row of 256 columns.
 */
const SKINNY_ROWS = 16;
const SKINNY_COLS = 256;

const matmulParams = [
  ["batch", "u32"],
  ["m", "u32"],
  ["n", "u32"],
  ["k", "u32"],
  ["strideA", "u32"],
  ["strideB", "u32"],
  ["accumulate", "u32"],
] as const;

/** Elements a batch of matrices of `size` elements, `stride` apart, spans (0 for no batch). */
function span(batch: number, stride: number, size: number): number {
  return batch === 0 || size === 0 ? 0 : (batch - 1) * stride + size;
}

function matmulSpec(name: string, skinny: boolean): KernelSpec {
  return {
    name,
    inputs: ["a", "b"],
    outputs: ["c"],
    params: matmulParams,
    sizes: (p) => [
      span(p.batch, p.strideA, p.m * p.k),
      span(p.batch, p.strideB, p.k * p.n),
      p.batch * p.m * p.n,
    ],
    // The shaders loop over tiles and batches beyond a clamped grid, so any size fits.
    grid: (p) => [
      Math.min(
        MAX_GROUPS_PER_DIM,
        Math.ceil(p.n / (skinny && p.m <= SKINNY_ROWS ? SKINNY_COLS : MATMUL_TILE)),
      ),
      Math.min(MAX_GROUPS_PER_DIM, Math.ceil(p.m / MATMUL_TILE)),
      Math.min(MAX_GROUPS_PER_DIM, p.batch),
    ],
  };
}

export const matmulKernels: KernelSpec[] = [
  matmulSpec("matmul", true),
  // The same WGSL as matmul, A or B read transposed (its overrides A_TRANSPOSED, B_TRANSPOSED).
  { ...matmulSpec("matmul_tn", false), source: "matmul", constants: { A_TRANSPOSED: 1 } },
  { ...matmulSpec("matmul_nt", true), source: "matmul", constants: { B_TRANSPOSED: 1 } },
  {
    name: "bias_add",
    inputs: ["x", "bias"],
    outputs: ["out"],
    params: [["rows", "u32"], ["cols", "u32"]],
    sizes: (p) => [p.rows * p.cols, p.rows === 0 ? 0 : p.cols, p.rows * p.cols],
    grid: (p) => grid1d(p.rows * p.cols),
    pieces: rowPieces((p) => [p.cols, 0, p.cols]),
  },
  {
    name: "sum_rows",
    inputs: ["x"],
    outputs: ["out"],
    params: [["rows", "u32"], ["cols", "u32"], ["accumulate", "u32"]],
    sizes: (p) => [p.rows * p.cols, p.cols],
    grid: (p) => grid1d(p.cols, 64),
  },
];
