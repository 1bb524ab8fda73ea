// KNE's locality term: the unedited model's next-token distributions on anchor prompts (each
// prompt's last position), held in length buckets and groups that the update reads one per step,
// and the KL of the edited model to them that the update adds to the target loss.

import * as A from "../autograd/ops.ts";
import { noGrad, type Var } from "../autograd/variable.ts";
import { padBatch } from "../edit/request.ts";
import type { CausalLM, LayerStart } from "../model/lm.ts";
import { Tensor, tidy } from "../tensor/tensor.ts";

export interface LocalityAnchor {
  /** Unrelated prompts (ids, [batch, t]) and the unedited model's logits on them. */
  ids: Tensor;
  /**
   * The positions the KL reads: each prompt's last one (the prediction that answers it), so
   * template words and padding do not dilute the term and need no logits.
   */
  rows: Tensor;
  /** Logits of the unedited model at `rows`, [prompts, V]. */
  refLogits: Tensor;
  /** Per-row weights of the KL: 1/prompts each. */
  weights: Tensor;
}

/**
 * Logits of the unedited model on unrelated prompts, for the KL term; each prompt's KL row is
 * weighted `weight` (default 1/prompts: the batch is the whole term).
 */
export function localityAnchor(
  model: CausalLM,
  prompts: number[][],
  weight = 1 / prompts.length,
): LocalityAnchor {
  const { ids, t } = padBatch(prompts.map((p) => ({ ids: p, targets: p.map(() => -1) })));
  const be = model.backend;
  const idT = Tensor.fromArray(be, ids, [prompts.length, t]);
  const answers = prompts.map((p, i) => i * t + p.length - 1);
  const rows = Tensor.fromArray(be, answers, [prompts.length]);
  // tidy frees the forward's intermediates; only the logits survive.
  const refLogits = tidy(() => noGrad(() => model.forward(idT, undefined, undefined, rows).value));
  const w = new Float32Array(prompts.length).fill(weight);
  return { ids: idT, rows, refLogits, weights: Tensor.fromArray(be, w, [w.length]) };
}

/** At most this many padded batches per group of anchors (see lengthBuckets). */
export const MAX_LENGTH_BUCKETS = 3;

/**
 * Splits prompts into at most `buckets` batches of similar length so that padding to each
 * batch's longest prompt wastes as few token rows as possible: the lengths sorted, cut where the
 * padded total (sum over batches of count x longest) is least (exact, by dynamic programming).
 * A prompt's last position attends to nothing after it, so the KL rows are the same in any batch.
 */
export function lengthBuckets(prompts: number[][], buckets = MAX_LENGTH_BUCKETS): number[][][] {
  const sorted = [...prompts].sort((a, b) => a.length - b.length);
  const n = sorted.length;
  if (n === 0) return [];
  // cost[k][i]: least padded rows of the first i prompts in k batches; cut[k][i]: last batch start.
  const cost = Array.from({ length: buckets + 1 }, () => new Array(n + 1).fill(Infinity));
  const cut = Array.from({ length: buckets + 1 }, () => new Array(n + 1).fill(0));
  cost[0][0] = 0;
  for (let k = 1; k <= buckets; k++) {
    for (let i = 1; i <= n; i++) {
      for (let j = 0; j < i; j++) {
        const c = cost[k - 1][j] + (i - j) * sorted[i - 1].length;
        if (c < cost[k][i]) (cost[k][i] = c, cut[k][i] = j);
      }
    }
  }
  let k = 1;
  for (let b = 2; b <= buckets; b++) if (cost[b][n] < cost[k][n]) k = b;
  const out: number[][][] = [];
  for (let i = n; k > 0; k--) {
    out.unshift(sorted.slice(cut[k][i], i));
    i = cut[k][i];
  }
  return out;
}

/**
 * The KL term's anchors in groups of at most `perStep` prompts (0: one group of all), each
 * group weighted as a whole term (1/its prompts) and held as length buckets (lengthBuckets):
 * the update reads one group per step, in turn, so each step forwards only one group while every
 * anchor still takes part. The groups are strided (group g holds prompts g, g + G, g + 2G, ...
 * of the G groups), so that each one samples the whole list: the unrelated prompts and, in
 * sequential mode, the earlier edits of every age, even in an edit that stops after a few steps.
 */
export function localityAnchors(
  model: CausalLM,
  prompts: number[][],
  perStep: number,
): LocalityAnchor[][] {
  const count = perStep > 0 ? Math.ceil(prompts.length / perStep) : Math.min(1, prompts.length);
  return Array.from({ length: count }, (_, g) => {
    const group = prompts.filter((_, i) => i % count === g);
    return lengthBuckets(group).map((b) => localityAnchor(model, b, 1 / group.length));
  });
}

/**
 * The KL term of one anchor batch, weighted `klWeight`: the edited model's logits at the
 * anchors' answer rows against the unedited ones, as the update adds it to the target loss. With
 * `start` the forward begins at that layer (CausalLM.forward).
 */
export function anchorKl(
  model: CausalLM,
  anchor: LocalityAnchor,
  klWeight: number,
  start?: LayerStart,
): Var {
  const q = model.forward(anchor.ids, undefined, undefined, anchor.rows, start);
  return A.scale(A.dot(A.klRows(anchor.refLogits, q), anchor.weights), klWeight);
}

/** Frees the anchor's device tensors. */
export function freeAnchor(anchor: LocalityAnchor): void {
  for (const x of [anchor.ids, anchor.rows, anchor.refLogits, anchor.weights]) x.free();
}
