// KNE's masked update: only the ensemble's units receive gradient (a 0/1 mask applied where the
// gradient reaches each parameter; tensors outside the ensemble are frozen so their gradients
// are never computed), all layers step together with Adam, early stop on the target loss,
// optional KL-to-unedited locality term. Divergence (NaN/Inf) is reported to the caller, which
// restores the snapshot. With f16 weights, Adam steps an f32 master copy of each trainable matrix
// and the f16 weight the forward reads is the master rounded to nearest after every step: steps
// smaller than half an f16 ulp accumulate in the master instead of vanishing, and the weights
// evaluated (and recorded in the patch) are exactly the f16 values the model holds.

import { Adam } from "../autograd/adam.ts";
import * as A from "../autograd/ops.ts";
import { backward, noGrad, param, type Var } from "../autograd/variable.ts";
import { padBatch, targetRows, type TeacherForced } from "../edit/request.ts";
import type { CausalLM } from "../model/lm.ts";
import { cast, countNonfinite } from "../tensor/ops.ts";
import { Tensor, tidy, tidyAsync } from "../tensor/tensor.ts";
import type { Ensemble } from "./ensemble.ts";
import type { KneHparams } from "./hparams.ts";

export interface UpdateResult {
  steps: number;
  losses: number[];
  diverged: boolean;
  seconds: number;
}

/** Builds the per-tensor 0/1 masks of the ensemble (weights and their biases). */
export function ensembleMasks(model: CausalLM, e: Ensemble): Map<string, Tensor> {
  const masks = new Map<string, Tensor>();
  for (const t of e.tensors) {
    // The entries of unitEntries(info, u) for every unit, without building index arrays.
    const info = model.paramInfo.find((p) => p.name === t.name)!;
    const [r, c] = info.shape;
    const m = new Float32Array(r * c);
    if (info.layout === "in_out") {
      for (let base = 0; base < r * c; base += c) for (const u of t.units) m[base + u] = 1;
    } else {
      for (const u of t.units) m.fill(1, u * c, (u + 1) * c);
    }
    masks.set(t.name, Tensor.fromArray(model.backend, m, t.shape));
    if (t.bias) {
      const bias = model.params.get(t.bias)!;
      const bm = new Float32Array(bias.value.size);
      for (const u of t.units) bm[u] = 1;
      masks.set(t.bias, Tensor.fromArray(model.backend, bm, bias.shape));
    }
  }
  return masks;
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

/** Logits of the unedited model on unrelated prompts, for the KL term. */
export function localityAnchor(model: CausalLM, prompts: number[][]): LocalityAnchor {
  const { ids, t } = padBatch(prompts.map((p) => ({ ids: p, targets: p.map(() => -1) })));
  const be = model.backend;
  const idT = Tensor.fromArray(be, ids, [prompts.length, t]);
  const answers = prompts.map((p, i) => i * t + p.length - 1);
  const rows = Tensor.fromArray(be, answers, [prompts.length]);
  // tidy frees the forward's intermediates; only the logits survive.
  const refLogits = tidy(() => noGrad(() => model.forward(idT, undefined, undefined, rows).value));
  const w = new Float32Array(prompts.length).fill(1 / prompts.length);
  return { ids: idT, rows, refLogits, weights: Tensor.fromArray(be, w, [w.length]) };
}

/** Frees the anchor's device tensors. */
export function freeAnchor(anchor: LocalityAnchor): void {
  for (const x of [anchor.ids, anchor.rows, anchor.refLogits, anchor.weights]) x.free();
}

export async function maskedUpdate(
  model: CausalLM,
  rows: readonly TeacherForced[],
  ensemble: Ensemble,
  hp: Pick<KneHparams, "lr" | "steps" | "earlyStopLoss" | "klWeight" | "beta1" | "beta2">,
  anchor: LocalityAnchor | null,
  onStep?: (step: number, loss: number) => void,
): Promise<UpdateResult> {
  const t0 = performance.now();
  const masks = ensembleMasks(model, ensemble);
  const saved = [...model.params.values()].map((p) => [p, p.requiresGrad] as const);
  const trainable: Var[] = [];
  for (const [name, p] of model.params) {
    p.zeroGrad();
    p.requiresGrad = masks.has(name);
    p.gradMask = masks.get(name) ?? null;
    if (p.requiresGrad) trainable.push(p);
  }
  const masters = new Map<Var, Var>();
  for (const p of trainable) {
    if (p.value.dtype === "f16") masters.set(p, param(cast(p.value, "f32"), p.name));
  }
  const stepped = trainable.map((p) => masters.get(p) ?? p);
  const opt = new Adam(stepped, { lr: hp.lr, beta1: hp.beta1, beta2: hp.beta2, weightDecay: 0 });
  const { ids, targets, t } = padBatch(rows);
  const read = targetRows(targets);
  const be = model.backend;
  const idT = Tensor.fromArray(be, ids, [rows.length, t]);
  const rowT = Tensor.fromArray(be, read.rows, [read.rows.length]);
  const tgT = Tensor.fromArray(be, read.targets, [read.targets.length]);
  const count = read.targets.length;
  const w = Tensor.fromArray(be, read.targets.map(() => 1 / count), [count]);
  const losses: number[] = [];
  let diverged = false;
  try {
    for (let step = 0; step < hp.steps; step++) {
      const loss = await tidyAsync(async () => {
        const ce = A.dot(
          A.crossEntropyRows(model.forward(idT, undefined, undefined, rowT), tgT),
          w,
        );
        let total = ce;
        if (anchor && hp.klWeight > 0) {
          const q = model.forward(anchor.ids, undefined, undefined, anchor.rows);
          const rowsKl = A.klRows(anchor.refLogits, q);
          total = A.add(ce, A.scale(A.dot(rowsKl, anchor.weights), hp.klWeight));
        }
        const ceValue = (await ce.value.toArray())[0];
        const totalValue = (await total.value.toArray())[0];
        if (!Number.isFinite(totalValue)) return Number.NaN;
        if (ceValue < hp.earlyStopLoss) return ceValue;
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
      for (const [p, m] of masters) [m.grad, p.grad] = [p.grad, null];
      tidy(() => opt.update());
      for (const [p, m] of masters) cast(m.value, "f16", p.value);
      opt.zeroGrad();
    }
    if (!diverged) diverged = await anyNonFinite(trainable);
  } finally {
    opt.zeroGrad();
    opt.dispose();
    for (const [p, m] of masters) {
      p.zeroGrad();
      m.value.free();
    }
    for (const [p, r] of saved) {
      p.requiresGrad = r;
      p.gradMask = null;
    }
    for (const m of masks.values()) m.free();
    for (const x of [idT, rowT, tgT, w]) x.free();
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
