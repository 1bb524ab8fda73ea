// The language-model loss: mean next-token cross-entropy over the target positions that are
// not ignored (target < 0), as a [1] Var, plus the per-row losses for metrics.

import * as A from "../autograd/ops.ts";
import type { Var } from "../autograd/variable.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { CausalLM } from "./lm.ts";

export interface LossResult {
  loss: Var;
  rows: Var;
  logits: Var;
  /** Number of positions that count. */
  count: number;
}

/** ids and targets are host arrays of shape [batch, T] (targets -1 where ignored). */
export function lmLoss(
  model: CausalLM,
  ids: ArrayLike<number>,
  targets: ArrayLike<number>,
  batch: number,
): LossResult {
  const t = ids.length / batch;
  const be = model.backend;
  const idT = Tensor.fromArray(be, ids, [batch, t]);
  const tgT = Tensor.fromArray(be, targets, [batch * t]);
  let count = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] >= 0) count++;
  const w = Float32Array.from(targets, (x) => (x >= 0 ? 1 / Math.max(count, 1) : 0));
  const logits = model.forward(idT);
  const rows = A.crossEntropyRows(logits, tgT);
  const loss = A.dot(rows, Tensor.fromArray(be, w, [batch * t]));
  return { loss, rows, logits, count };
}
