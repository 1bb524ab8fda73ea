// Specs of the normalisation kernels: LayerNorm (GPT-2) and RMSNorm (Llama) over the last axis of
// a row-major [rows, d] matrix, their input gradients, and their gamma/beta gradients. Row kernels
// run one workgroup per row (grid folded past 65535); param-grad kernels one invocation per column.

import { grid1d, type KernelSpec, rowPieces } from "./spec.ts";

/** One workgroup per row, folded into 2-D past 65535 rows. */
const perRow = (p: Readonly<Record<string, number>>) => grid1d(p.rows, 1);
/** One invocation per column. */
const perColumn = (p: Readonly<Record<string, number>>) => grid1d(p.d);

export const normKernels: KernelSpec[] = [
  /**
   * out = (x - mean) * rstd * gamma + beta per row, rstd = 1/sqrt(biased var + eps);
   * also stores mean[rows] and rstd[rows] for the backward pass.
   */
  {
    name: "layernorm",
    inputs: ["x", "gamma", "beta"],
    outputs: ["out", "mean", "rstd"],
    params: [["rows", "u32"], ["d", "u32"], ["eps", "f32"]],
    sizes: (p) => [p.rows * p.d, p.d, p.d, p.rows * p.d, p.rows, p.rows],
    grid: perRow,
    pieces: rowPieces((p) => [p.d, 0, 0, p.d, 1, 1]),
  },
  /** dx of layernorm given dy and the saved mean, rstd. */
  {
    name: "layernorm_backward",
    inputs: ["x", "gamma", "dy", "mean", "rstd"],
    outputs: ["dx"],
    params: [["rows", "u32"], ["d", "u32"]],
    sizes: (p) => [p.rows * p.d, p.d, p.rows * p.d, p.rows, p.rows, p.rows * p.d],
    grid: perRow,
    pieces: rowPieces((p) => [p.d, 0, p.d, 1, 1, p.d]),
  },
  /**
   * dgamma[j] = sum_r dy[r,j] * (x[r,j]-mean[r]) * rstd[r]; dbeta[j] = sum_r dy[r,j].
   * accumulate = 1 adds into dgamma/dbeta instead of overwriting them.
   */
  {
    name: "layernorm_param_grad",
    inputs: ["x", "dy", "mean", "rstd"],
    outputs: ["dgamma", "dbeta"],
    params: [["rows", "u32"], ["d", "u32"], ["accumulate", "u32"]],
    sizes: (p) => [p.rows * p.d, p.rows * p.d, p.rows, p.rows, p.d, p.d],
    grid: perColumn,
  },
  /** out = x * rrms * gamma, rrms[r] = 1/sqrt(mean(x[r]^2) + eps) (stored). */
  {
    name: "rmsnorm",
    inputs: ["x", "gamma"],
    outputs: ["out", "rrms"],
    params: [["rows", "u32"], ["d", "u32"], ["eps", "f32"]],
    sizes: (p) => [p.rows * p.d, p.d, p.rows * p.d, p.rows],
    grid: perRow,
    pieces: rowPieces((p) => [p.d, 0, p.d, 1]),
  },
  /** dx of rmsnorm given dy and the saved rrms. */
  {
    name: "rmsnorm_backward",
    inputs: ["x", "gamma", "dy", "rrms"],
    outputs: ["dx"],
    params: [["rows", "u32"], ["d", "u32"]],
    sizes: (p) => [p.rows * p.d, p.d, p.rows * p.d, p.rows, p.rows * p.d],
    grid: perRow,
    pieces: rowPieces((p) => [p.d, 0, p.d, 1, p.d]),
  },
  /** dgamma[j] = sum_r dy[r,j] * x[r,j] * rrms[r]; accumulate = 1 adds into dgamma. */
  {
    name: "rmsnorm_param_grad",
    inputs: ["x", "dy", "rrms"],
    outputs: ["dgamma"],
    params: [["rows", "u32"], ["d", "u32"], ["accumulate", "u32"]],
    sizes: (p) => [p.rows * p.d, p.rows * p.d, p.rows, p.d],
    grid: perColumn,
  },
];
