// Specs of the row-wise softmax, loss and argmax kernels over row-major [rows, cols] (or
// [rows, V]) matrices. Row kernels run one workgroup of 256 invocations per row (grid folded past
// 65535 rows) with shared-memory reductions; cross_entropy_backward is elementwise.
// Integer data (targets) are f32 values; a target < 0 marks an ignored row.

import { BackendError } from "../backend.ts";
import { EXP_COST, grid1d, type KernelSpec, rowPieces } from "./spec.ts";

/** One workgroup per row, folded into 2-D past 65535 rows. */
const perRow = (p: Readonly<Record<string, number>>) => grid1d(p.rows, 1);

export const softmaxKernels: KernelSpec[] = [
  /**
   * out = softmax(scale * x) per row. With causal = 1, row r is query position
   * pos = (r % qlen) + (cols - qlen) over keys 0..cols-1 (queries are the last qlen keys, as with
   * a KV cache); columns after pos get probability exactly 0 and are excluded from max and sum.
   */
  {
    name: "softmax",
    inputs: ["x"],
    outputs: ["out"],
    params: [["rows", "u32"], ["cols", "u32"], ["qlen", "u32"], ["causal", "u32"], [
      "scale",
      "f32",
    ]],
    sizes: (p) => {
      if (p.causal !== 0 && (p.qlen < 1 || p.qlen > p.cols)) {
        throw new BackendError(
          `kernel softmax: causal masking needs 1 <= qlen <= cols, got qlen=${p.qlen} cols=${p.cols}`,
        );
      }
      return [p.rows * p.cols, p.rows * p.cols];
    },
    grid: perRow,
    // A causal row's query position is its index modulo qlen: ranges hold whole query blocks.
    pieces: {
      ...rowPieces((p) => [p.cols, p.cols], EXP_COST),
      align: (p) => p.causal ? p.qlen : 1,
    },
  },
  /** dx = scale * y * (dy - sum_j y_j dy_j) per row: the gradient w.r.t. the pre-scale x. */
  {
    name: "softmax_backward",
    inputs: ["y", "dy"],
    outputs: ["dx"],
    params: [["rows", "u32"], ["cols", "u32"], ["scale", "f32"]],
    sizes: (p) => [p.rows * p.cols, p.rows * p.cols, p.rows * p.cols],
    grid: perRow,
    pieces: rowPieces((p) => [p.cols, p.cols, p.cols], EXP_COST),
  },
  /**
   * lse[r] = logsumexp(logits[r]); loss[r] = lse[r] - logits[r, targets[r]]. A target < 0 is
   * ignored (loss 0, lse still written); a target >= V (or NaN) gives a NaN loss.
   */
  {
    name: "cross_entropy",
    inputs: ["logits", "targets"],
    outputs: ["loss", "lse"],
    params: [["rows", "u32"], ["V", "u32"]],
    sizes: (p) => [p.rows * p.V, p.rows, p.rows, p.rows],
    grid: perRow,
    pieces: rowPieces((p) => [p.V, 1, 1, 1], EXP_COST),
  },
  /**
   * dlogits[r] = (softmax(logits[r]) - onehot(targets[r])) * dloss[r], using the saved lse.
   * Ignored rows (target < 0) get 0; a target >= V (or NaN) gives a NaN row. Elementwise.
   */
  {
    name: "cross_entropy_backward",
    inputs: ["logits", "targets", "lse", "dloss"],
    outputs: ["dlogits"],
    params: [["rows", "u32"], ["V", "u32"]],
    sizes: (p) => [p.rows * p.V, p.rows, p.rows, p.rows, p.rows * p.V],
    grid: (p) => grid1d(p.rows * p.V),
    pieces: rowPieces((p) => [p.V, 1, 1, 1, p.V], EXP_COST),
  },
  /**
   * kl[r] = KL(softmax(p_logits[r]) || softmax(q_logits[r])), computed without cancellation so
   * that tiny divergences keep their relative accuracy (exactly 0 when q = p + const).
   */
  {
    name: "kl_div",
    inputs: ["p_logits", "q_logits"],
    outputs: ["kl"],
    params: [["rows", "u32"], ["V", "u32"]],
    sizes: (p) => [p.rows * p.V, p.rows * p.V, p.rows],
    grid: perRow,
    pieces: rowPieces((p) => [p.V, p.V, 1], EXP_COST),
  },
  /** dq[r] = (softmax(q_logits[r]) - softmax(p_logits[r])) * dkl[r]: gradient w.r.t. q_logits. */
  {
    name: "kl_div_backward",
    inputs: ["p_logits", "q_logits", "dkl"],
    outputs: ["dq"],
    params: [["rows", "u32"], ["V", "u32"]],
    sizes: (p) => [p.rows * p.V, p.rows * p.V, p.rows, p.rows * p.V],
    grid: perRow,
    pieces: rowPieces((p) => [p.V, p.V, 1, p.V], EXP_COST),
  },
  /** out[r] = index of the largest x[r, j] (lowest index on ties), as an f32. */
  {
    name: "argmax_rows",
    inputs: ["x"],
    outputs: ["out"],
    params: [["rows", "u32"], ["cols", "u32"]],
    sizes: (p) => [p.rows * p.cols, p.rows],
    grid: perRow,
    pieces: rowPieces((p) => [p.cols, 1]),
  },
];
