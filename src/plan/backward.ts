// The gradients a KNE backward holds at once, measured by running the real forward, loss and
// backward() (src/autograd) of the edit's two phases on the measuring backend (no data, no
// arithmetic: engine/measure/backend.ts), as src/plan/activations.ts does for the forward.
// Attribution differentiates every scored weight and bias densely into running sums; the update
// only the ensemble's units (Var.gradUnits) into compact sums, its loss the mean target
// cross-entropy plus, with a KL term, the KL over each anchor batch (src/kne/, built by
// ./losses.ts as the planner's kept tensors are). The sums are allocated before the step (the
// plan counts them as gradients and optimizer state); what is measured is the backward's peak
// above what the forward left alive.
//
// Cuts of 2 and 3 layers are measured (the last layer differs from the others: with rows read it
// goes on from its attention with those rows only, so a cut of 1 layer has no whole layer).
// Every whole layer above the bottom one runs the same backward and leaves the same bytes behind,
// if any, until the backward ends: with r those bytes (what the third layer adds to what the
// 2-layer cut still holds at its end), a model of n layers peaks at max(peak of 2 layers, peak of 3
// layers + (n - 3) r). That is exact when r is 0 or the layers outweigh the head's backward (the
// logits' gradient), else an upper bound higher by less than that head peak; so an 80-layer config
// costs what a 3-layer one does.

import type { DType } from "../../engine/backend.ts";
import { MeasuringBackend } from "../../engine/measure/backend.ts";
import * as A from "../autograd/ops.ts";
import { backward, type Var } from "../autograd/variable.ts";
import { scoredParams, unitShape } from "../kne/attribution.ts";
import type { KneHparams } from "../kne/hparams.ts";
import type { ModelConfig } from "../model/config.ts";
import type { CausalLM } from "../model/lm.ts";
import { axpy } from "../tensor/ops.ts";
import { Tensor, tidy } from "../tensor/tensor.ts";
import { type BufferSize, bufferSize, largerBuffer, measuredModel } from "./activations.ts";
import { measuredLoss } from "./losses.ts";

/** The work of one backward: the batch, the rows the head runs on, how the layers run. */
export interface BackwardWork {
  batch: number;
  seqLen: number;
  /** Target rows: the positions that go through the final norm, the head and the loss. */
  headRows: number;
  checkpointed: boolean;
  weightDtype: DType;
}

/** The update's backward: the units it trains and the KL term's anchor batches. */
export interface UpdateWork extends BackwardWork {
  /** Units trained in each scored tensor, at most (its own count bounds it). */
  units: number;
  ffnUnit: KneHparams["ffnUnit"];
  /** The anchor batches one step forwards (rows x seqLen each, the head at one row each). */
  klBatches: readonly { rows: number; seqLen: number }[];
}

/** The phase whose backward is measured, with its work. */
export type Phase = { attribution: BackwardWork } | { update: UpdateWork };

/**
 * Peak above the backward's start, the bytes still held at its end, and the largest buffer it
 * allocates (a dense weight gradient, an activation's gradient, a recomputed layer's, ...).
 */
export interface Measured {
  peak: number;
  held: number;
  largest: BufferSize;
}

/** Makes the scored params take their gradients as attribution does: dense, into sums. */
function denseSinks(be: MeasuringBackend, model: CausalLM): void {
  for (const { info, bias } of scoredParams(model)) {
    for (const name of bias ? [info.name, bias.name] : [info.name]) {
      const v = model.params.get(name)!;
      const sum = Tensor.empty(be, v.shape);
      v.requiresGrad = true;
      v.gradSink = (g) => axpy(sum, g, 1);
    }
  }
}

/**
 * Makes the scored params take their gradients as the update does: `units` of each tensor
 * (Var.gradUnits), summed into compact masters' gradients, f32 [k, cols] or [rows, k].
 */
function unitSinks(be: MeasuringBackend, model: CausalLM, work: UpdateWork): void {
  for (const { info, bias, axis } of scoredParams(model, "all", work.ffnUnit)) {
    const k = Math.min(work.units, unitShape(info, axis).units);
    const ids = Tensor.empty(be, [k]);
    const [rows, cols] = info.shape;
    const targets = [
      { v: model.params.get(info.name)!, axis, shape: axis === 0 ? [k, cols] : [rows, k] },
      ...(bias ? [{ v: model.params.get(bias.name)!, axis: 1 as const, shape: [1, k] }] : []),
    ];
    for (const { v, axis, shape } of targets) {
      const sum = Tensor.empty(be, shape);
      v.requiresGrad = true;
      v.gradUnits = { ids, axis };
      v.gradSink = (g) => {
        const part = g.reshape(shape);
        axpy(sum, part, 1);
        part.free();
      };
    }
  }
}

/**
 * The loss of the phase on a forward of `model`, and the seed its backward starts from: built by
 * ./losses.ts, as the planner's kept tensors are (src/plan/activations.ts).
 */
function phaseLoss(model: CausalLM, phase: Phase): [Var, Tensor?] {
  const work = "attribution" in phase ? phase.attribution : phase.update;
  const target = (loss: "attribution" | "update") =>
    measuredLoss(model, work.batch, work.seqLen, { loss, rows: work.headRows }).run();
  if ("attribution" in phase) {
    const { root, seed } = target("attribution");
    return [root, seed];
  }
  let total = target("update").root;
  for (const b of phase.update.klBatches) {
    total = A.add(total, measuredLoss(model, b.rows, b.seqLen, { loss: "anchor" }).run().root);
  }
  return [total];
}

/** One step of the phase on `config` cut to `layers` layers, on a fresh measuring backend. */
export function measureBackward(config: ModelConfig, layers: number, phase: Phase): Measured {
  const work = "attribution" in phase ? phase.attribution : phase.update;
  const be = new MeasuringBackend();
  return tidy(() => {
    const { model } = measuredModel(be, config, layers, work.weightDtype);
    model.checkpointLayers = work.checkpointed;
    for (const p of model.params.values()) p.requiresGrad = false;
    if ("attribution" in phase) denseSinks(be, model);
    else unitSinks(be, model, phase.update);
    const [root, seed] = phaseLoss(model, phase);
    const start = be.allocatedBytes();
    be.resetPeak();
    backward(root, seed);
    const big = be.largestBuffer();
    const what = "attribution" in phase ? "attribution" : "update";
    return {
      peak: be.peakBytes() - start,
      held: be.allocatedBytes() - start,
      largest: big
        ? bufferSize(big, `${what}'s backward: ${big.writer}`)
        : { name: "(none)", bytes: 0, dtype: "f32", count: 1 },
    };
  });
}

/** A phase's backward: its peak transient bytes and its largest buffer. */
interface Transient {
  bytes: number;
  largest: BufferSize;
}

const cache = new Map<string, Transient>();
const CACHE_ENTRIES = 256;

function transient(config: ModelConfig, phase: Phase): Transient {
  const key = JSON.stringify([config, phase]);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let measured: Transient;
  if (config.nLayers <= 3) {
    const m = measureBackward(config, config.nLayers, phase);
    measured = { bytes: m.peak, largest: m.largest };
  } else {
    const two = measureBackward(config, 2, phase), three = measureBackward(config, 3, phase);
    const perLayer = Math.max(0, three.held - two.held);
    // Every layer's backward is one of those the cuts run: so is its largest buffer.
    measured = {
      bytes: Math.max(two.peak, three.peak + (config.nLayers - 3) * perLayer),
      largest: largerBuffer(two.largest, three.largest),
    };
  }
  if (cache.size >= CACHE_ENTRIES) cache.clear();
  cache.set(key, measured);
  return measured;
}

/**
 * Bytes attribution's backward allocates above what its forward keeps, at its peak: one pass
 * differentiating every layer (a group of layers needs no more), its running sums excluded.
 * Memoised, as measureForward.
 */
export function attributionTransient(config: ModelConfig, work: BackwardWork): number {
  return transient(config, { attribution: work }).bytes;
}

/**
 * Bytes one update step's backward allocates above what its forwards keep, at its peak (the
 * compact masters' gradients excluded). Memoised.
 */
export function updateTransient(config: ModelConfig, work: UpdateWork): number {
  return transient(config, { update: work }).bytes;
}

/**
 * The largest buffer a backward of the phase allocates (its running sums excluded: the plan counts
 * them itself). Memoised with the transient bytes.
 */
export function backwardLargest(config: ModelConfig, phase: Phase): BufferSize {
  return transient(config, phase).largest;
}
