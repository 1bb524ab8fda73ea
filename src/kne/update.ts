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
import { anchorKl, type LocalityAnchor } from "./locality.ts";

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
  // residual stream entering it, computed once (bit-identical to running every layer). Not with
  // checkpointed layers: that forward (a hooked one) holds every layer's insides at once, beyond
  // what the memory plan gives a checkpointed edit; there the layers below run as inference in
  // each step, each freed once it has run.
  const lowest = Math.min(...ensemble.tensors.map((e) => e.layer));
  const starts = new Map<Tensor, LayerStart>();
  const startOf = (ids: Tensor): LayerStart | undefined => {
    if (!(lowest > 0 && Number.isFinite(lowest)) || model.checkpointLayers) return undefined;
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
