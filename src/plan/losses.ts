// The edit's losses as the planner measures them: the real forward and loss code on inputs of the
// work's shapes (no data on the measuring backend). KNE's target cross-entropy at the target rows
// (src/kne/attribution.ts targetCrossEntropy), as attribution seeds it and as the update averages
// it, and one batch of locality anchors made as the edit makes them (src/kne/update.ts
// localityAnchor: the reference logits come from the unedited forward) with its KL (anchorKl).
// activations.ts measures what they keep and backward.ts what their backward holds, from the same
// runs, so the plan's head, loss and locality bytes and its backward transients cannot disagree.

import * as A from "../autograd/ops.ts";
import type { Var } from "../autograd/variable.ts";
import { targetCrossEntropy } from "../kne/attribution.ts";
import { anchorKl, localityAnchor } from "../kne/locality.ts";
import type { CausalLM } from "../model/lm.ts";
import { Tensor } from "../tensor/tensor.ts";

/**
 * What a measured forward ends with: the target loss with the head at `rows` target rows, as
 * attribution or the update uses it, or an anchor batch's KL (the head at each prompt's last
 * row). Absent: the logits of every row, no loss.
 */
export type Head = { loss: "attribution" | "update"; rows: number } | { loss: "anchor" };

/** A loss whose inputs are allocated, ready to run. */
export interface MeasuredLoss {
  /** The device inputs by name (the token ids, and the loss's), allocated before the forward. */
  inputs: Record<string, Tensor>;
  /** Runs the forward and the loss: the Var backward starts from, and its seed if any. */
  run(): { root: Var; seed?: Tensor };
}

/** The loss `head` names on ids [batch, t] of `model` (call inside a tidy scope). */
export function measuredLoss(
  model: CausalLM,
  batch: number,
  t: number,
  head?: Head,
): MeasuredLoss {
  if (head?.loss === "anchor") {
    const prompts = Array.from({ length: batch }, () => new Array<number>(t).fill(0));
    const anchor = localityAnchor(model, prompts);
    return { inputs: { ...anchor }, run: () => ({ root: anchorKl(model, anchor, 1) }) };
  }
  const be = model.backend;
  const ids = Tensor.empty(be, [batch, t]);
  if (!head) return { inputs: { ids }, run: () => ({ root: model.forward(ids) }) };
  const rows = Tensor.empty(be, [head.rows]);
  const targets = Tensor.empty(be, [head.rows]);
  // Per target row: attribution's backward seed (-P), or the update's 1/rows (its mean).
  const weights = Tensor.empty(be, [head.rows]);
  return {
    inputs: { ids, rows, targets, weights },
    run: () => {
      const ce = targetCrossEntropy(model, ids, rows, targets);
      return head.loss === "attribution"
        ? { root: ce, seed: weights }
        : { root: A.dot(ce, weights) };
    },
  };
}
