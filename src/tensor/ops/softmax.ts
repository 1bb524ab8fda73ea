// Tensor ops of the softmax kernels (engine/kernels/softmax.ts): softmax, cross_entropy, kl_div,
// their backward kernels, and argmax_rows.

import { shapeStr, Tensor } from "../tensor.ts";
import { fail, rowKernel, rowsCols, sameBackend, sameShape } from "./dispatch.ts";

export interface SoftmaxOptions {
  /** Multiplies the input before the softmax. */
  scale?: number;
  /** Causal mask over the last dim; the rows are the last `qlen` query positions. */
  causal?: boolean;
  qlen?: number;
}

export function softmax(x: Tensor, opts: SoftmaxOptions = {}): Tensor {
  const [rows, cols] = rowsCols(x);
  const qlen = opts.qlen ?? cols;
  if (opts.causal && (qlen < 1 || qlen > cols)) {
    fail("softmax", `qlen ${qlen} must be in [1, ${cols}]`);
  }
  const out = Tensor.empty(x.backend, x.shape);
  if (x.size > 0) {
    // Causal rows are query positions r % qlen: chunks start on multiples of qlen.
    rowKernel(
      "softmax",
      rows,
      [[x, cols, "in"], [out, cols, "out"]],
      (rn) => [rn, cols, qlen, opts.causal ? 1 : 0, opts.scale ?? 1],
      opts.causal ? qlen : 1,
    );
  }
  return out;
}

export function softmaxBackward(y: Tensor, dy: Tensor, scale = 1): Tensor {
  sameShape("softmax_backward", y, dy);
  const [rows, cols] = rowsCols(y);
  const dx = Tensor.empty(y.backend, y.shape);
  if (y.size > 0) {
    rowKernel(
      "softmax_backward",
      rows,
      [[y, cols, "in"], [dy, cols, "in"], [dx, cols, "out"]],
      (rn) => [rn, cols, scale],
    );
  }
  return dx;
}

function checkTargets(op: string, logits: Tensor, targets: Tensor): [number, number] {
  sameBackend(op, logits, targets);
  const [rows, v] = rowsCols(logits);
  if (targets.size !== rows) {
    fail(op, `targets ${shapeStr(targets.shape)} do not match ${rows} rows of logits`);
  }
  return [rows, v];
}

/** Per-row cross-entropy (targets < 0 are ignored: loss 0) and the row log-sum-exp. */
export function crossEntropy(logits: Tensor, targets: Tensor): { loss: Tensor; lse: Tensor } {
  const [rows, v] = checkTargets("cross_entropy", logits, targets);
  const loss = Tensor.empty(logits.backend, [rows]);
  const lse = Tensor.empty(logits.backend, [rows]);
  if (rows > 0) {
    rowKernel("cross_entropy", rows, [
      [logits, v, "in"],
      [targets, 1, "in"],
      [loss, 1, "out"],
      [lse, 1, "out"],
    ], (rn) => [rn, v]);
  }
  return { loss, lse };
}

export function crossEntropyBackward(
  logits: Tensor,
  targets: Tensor,
  lse: Tensor,
  dloss: Tensor,
): Tensor {
  const [rows, v] = checkTargets("cross_entropy_backward", logits, targets);
  const d = Tensor.empty(logits.backend, logits.shape);
  if (rows > 0) {
    rowKernel("cross_entropy_backward", rows, [
      [logits, v, "in"],
      [targets, 1, "in"],
      [lse, 1, "in"],
      [dloss, 1, "in"],
      [d, v, "out"],
    ], (rn) => [rn, v]);
  }
  return d;
}

/** Per-row KL(softmax(p) || softmax(q)). */
export function klDiv(p: Tensor, q: Tensor): Tensor {
  sameShape("kl_div", p, q);
  const [rows, v] = rowsCols(p);
  const out = Tensor.empty(p.backend, [rows]);
  if (rows > 0) {
    rowKernel("kl_div", rows, [[p, v, "in"], [q, v, "in"], [out, 1, "out"]], (rn) => [rn, v]);
  }
  return out;
}

export function klDivBackward(p: Tensor, q: Tensor, dkl: Tensor): Tensor {
  sameShape("kl_div_backward", p, q);
  const [rows, v] = rowsCols(p);
  const dq = Tensor.empty(p.backend, q.shape);
  if (rows > 0) {
    rowKernel(
      "kl_div_backward",
      rows,
      [[p, v, "in"], [q, v, "in"], [dkl, 1, "in"], [dq, v, "out"]],
      (rn) => [rn, v],
    );
  }
  return dq;
}

/** Index of the max of each row (as f32 values). */
export function argmaxRows(x: Tensor): Tensor {
  const [rows, cols] = rowsCols(x);
  const out = Tensor.empty(x.backend, [rows]);
  if (rows > 0) {
    rowKernel("argmax_rows", rows, [[x, cols, "in"], [out, 1, "out"]], (rn) => [rn, cols]);
  }
  return out;
}
