// KNE's masked update: only the ensemble's units change. Each tensor holding ensemble units is
// trained in compact form: an f32 master of just its units' entries (the selected columns of an
// [in, out] weight, rows of an [out, in] weight, entries of its bias), which Adam steps; the
// gradient is computed for those units only (Var.gradUnits: A.linear multiplies just their columns
// of the output gradient) and summed into the master's as it arrives (a gradient sink), and after
// each step the masters are written back into the model's tensors (rounded to nearest when they
// are f16). Optimizer memory is therefore 16 bytes per ensemble entry, not per entry of every
// tensor the ensemble touches, and no dense weight gradient is ever formed; the result is the
// same as masking a dense update: entries outside the ensemble keep their bits, and with f16
// weights steps smaller than half an f16 ulp accumulate in the master instead of vanishing while
// the model evaluated (and the patch recorded) holds exactly the f16 values written. All layers
// step together with Adam, early stop on the target loss, optional KL-to-unedited locality term.
// Divergence (NaN/Inf) is reported to the caller, which restores the snapshot.

import { BackendError } from "../../engine/backend.ts";
import { Adam } from "../autograd/adam.ts";
import * as A from "../autograd/ops.ts";
import { backward, noGrad, param, type Var } from "../autograd/variable.ts";
import { padBatch, targetRows, type TeacherForced } from "../edit/request.ts";
import type { CausalLM, LayerStart } from "../model/lm.ts";
import { axpy, countNonfinite, gatherUnits, scatterUnits, unitMatrix } from "../tensor/ops.ts";
import { keep, Tensor, tidy, tidyAsync } from "../tensor/tensor.ts";
import { targetCrossEntropy } from "./attribution.ts";
import { type Ensemble, ensembleSelections } from "./ensemble.ts";
import type { KneHparams } from "./hparams.ts";

export interface UpdateResult {
  steps: number;
  losses: number[];
  diverged: boolean;
  seconds: number;
}

/**
 * A model tensor trained through the compact master of its ensemble units: rows (axis 0) or
 * columns (axis 1) `ids` of the tensor seen as a matrix (a bias is one row, its units columns).
 */
export interface UnitParam {
  target: Var;
  /** The target's value as a matrix (a view; the bias as [1, n]). */
  matrix: Tensor;
  ids: Tensor;
  axis: 0 | 1;
  /** f32 [units, cols] or [rows, units]: the entries Adam steps. */
  master: Var;
}

/** The ensemble's tensors (weights and biases) as compact unit params, masters set from the model. */
export function unitParams(model: CausalLM, e: Ensemble): UnitParam[] {
  return ensembleSelections(e).map(({ name, units, axis }) => {
    const target = model.params.get(name)!;
    const matrix = unitMatrix(target.value);
    const ids = Tensor.fromArray(model.backend, units, [units.length]);
    const master = param(gatherUnits(matrix, ids, axis), `${name} units`);
    return { target, matrix, ids, axis, master };
  });
}

/** Frees what unitParams allocated (the masters' gradients included). */
export function freeUnitParams(list: readonly UnitParam[]): void {
  for (const u of list) {
    u.master.zeroGrad();
    u.master.value.free();
    u.ids.free();
    u.matrix.free();
  }
}

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

/**
 * The residual stream entering `layer` on token ids [batch, t] (no gradient), kept: where the
 * update's forwards start when no unit below `layer` is trained, so the layers below, which give
 * the same activations at every step, run once per update instead of once per step.
 */
export function residualEntering(model: CausalLM, ids: Tensor, layer: number): Tensor {
  if (!Number.isInteger(layer) || layer < 1 || layer >= model.config.nLayers) {
    throw new BackendError(
      `residualEntering: layer ${layer} is not one of 1..${model.config.nLayers - 1}`,
    );
  }
  let x: Tensor | undefined;
  tidy(() =>
    noGrad(() =>
      model.forward(
        ids,
        (l, site, v) => {
          if (l === layer - 1 && site === "resid") x = keep(v.value.clone());
        },
        undefined,
        Tensor.fromArray(model.backend, [0], [1]),
      )
    )
  );
  return x!;
}

/** Frees the anchor's device tensors. */
export function freeAnchor(anchor: LocalityAnchor): void {
  for (const x of [anchor.ids, anchor.rows, anchor.refLogits, anchor.weights]) x.free();
}

/**
 * Trains the ensemble's units on the target rows (and the KL term on the anchors' groups, one
 * group per step). `fromReference`: the model is still the one the anchors were taken from, so
 * the first step skips the term (exactly zero there) and the groups are read from the second.
 */
export async function maskedUpdate(
  model: CausalLM,
  rows: readonly TeacherForced[],
  ensemble: Ensemble,
  hp: Pick<KneHparams, "lr" | "steps" | "earlyStopLoss" | "klWeight" | "beta1" | "beta2">,
  anchors: readonly (readonly LocalityAnchor[])[],
  onStep?: (step: number, loss: number) => void,
  fromReference = false,
): Promise<UpdateResult> {
  const t0 = performance.now();
  const saved = [...model.params.values()].map((p) => [p, p.requiresGrad] as const);
  for (const p of model.params.values()) {
    p.zeroGrad();
    p.requiresGrad = false;
  }
  const units = unitParams(model, ensemble);
  for (const u of units) {
    u.target.requiresGrad = true;
    // Only the units' gradient is computed (summed over repeated uses).
    u.target.gradUnits = { ids: u.ids, axis: u.axis };
    u.target.gradSink = (g) => {
      const part = g.reshape(u.master.shape);
      if (u.master.grad) axpy(u.master.grad, part, 1);
      else u.master.grad = keep(part.clone());
      part.free();
    };
  }
  const opt = new Adam(units.map((u) => u.master), {
    lr: hp.lr,
    beta1: hp.beta1,
    beta2: hp.beta2,
    weightDecay: 0,
  });
  const { ids, targets, t } = padBatch(rows);
  const read = targetRows(targets);
  const be = model.backend;
  const idT = Tensor.fromArray(be, ids, [rows.length, t]);
  const rowT = Tensor.fromArray(be, read.rows, [read.rows.length]);
  const tgT = Tensor.fromArray(be, read.targets, [read.targets.length]);
  const count = read.targets.length;
  const w = Tensor.fromArray(be, read.targets.map(() => 1 / count), [count]);
  // No unit below the ensemble's lowest layer changes: the forwards start there, from the
  // residual stream entering it, computed once (bit-identical to running every layer).
  const lowest = Math.min(...ensemble.tensors.map((e) => e.layer));
  const starts = new Map<Tensor, LayerStart>();
  const startOf = (ids: Tensor): LayerStart | undefined => {
    if (!(lowest > 0 && Number.isFinite(lowest))) return undefined;
    let st = starts.get(ids);
    if (!st) starts.set(ids, st = { layer: lowest, x: residualEntering(model, ids, lowest) });
    return st;
  };
  const losses: number[] = [];
  let diverged = false;
  try {
    for (let step = 0; step < hp.steps; step++) {
      const loss = await tidyAsync(async () => {
        const ce = A.dot(targetCrossEntropy(model, idT, rowT, tgT, startOf(idT)), w);
        // The target loss first: at the step that stops early (and one that diverges) the
        // anchors' forward, the dearest part of a step, is never run.
        const ceValue = (await ce.value.toArray())[0];
        if (!Number.isFinite(ceValue)) return Number.NaN;
        if (ceValue < hp.earlyStopLoss) return ceValue;
        let total = ce;
        // fromReference: the first step's model is the one the anchors' reference logits came
        // from, so the same forward gives the same logits and the KL term and its gradient are
        // exactly zero there: that step reads no anchors, and the groups are read from the next.
        const turn = fromReference ? step - 1 : step;
        const group = anchors.length > 0 && turn >= 0 ? anchors[turn % anchors.length] : [];
        if (hp.klWeight > 0) {
          for (const anchor of group) {
            total = A.add(total, anchorKl(model, anchor, hp.klWeight, startOf(anchor.ids)));
          }
        }
        if (total !== ce && !Number.isFinite((await total.value.toArray())[0])) return Number.NaN;
        backward(total);
        return ceValue;
      });
      losses.push(loss);
      onStep?.(step + 1, loss);
      if (!Number.isFinite(loss)) {
        diverged = true;
        break;
      }
      if (loss < hp.earlyStopLoss) break;
      tidy(() => opt.update());
      for (const u of units) scatterUnits(u.matrix, u.master.value, u.ids, u.axis);
      opt.zeroGrad();
    }
    if (!diverged) diverged = await anyNonFinite(units.map((u) => u.target));
  } finally {
    opt.zeroGrad();
    opt.dispose();
    for (const u of units) {
      u.target.gradSink = null;
      u.target.gradUnits = null;
    }
    freeUnitParams(units);
    for (const [p, r] of saved) p.requiresGrad = r;
    for (const x of [idT, rowT, tgT, w]) x.free();
    for (const st of starts.values()) st.x.free();
  }
  return { steps: losses.length, losses, diverged, seconds: (performance.now() - t0) / 1000 };
}

async function anyNonFinite(params: readonly Var[]): Promise<boolean> {
  for (const p of params) {
    const n = await tidyAsync(async () => (await countNonfinite(p.value).toArray())[0]);
    if (n > 0) return true;
  }
  return false;
}
