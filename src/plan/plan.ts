// The memory planner: what an edit needs on the device and on the host, computed from the config
// alone (no weight is read), and the check that refuses a model before loading it when it cannot
// fit. Every device buffer is f32 except the weight matrices, which may be f16. The activations
// (what autograd keeps until backward), the head's and the loss's tensors with their inputs, the
// KL term's and the backward's transient gradients are measured by running the models' own
// forward and the edit's own losses and backward on a backend that only counts allocations
// (src/plan/activations.ts, losses.ts, backward.ts), so none can drift from the code;
// tests/reliability/plan_test.ts checks them against the bytes a real edit allocates. The largest
// single buffer is found per phase, each buffer in the dtype it is held in (an f16 weight at 2
// bytes an entry), among the weights, the f32 buffers the edit makes of the scored ones, and every
// buffer the measured forwards and backwards make, kept or freed; it is exactly the real load's
// and edit's (tests/reliability/plan_largest_test.ts). Whether a plan fits a backend:
// ./fit.ts; the plan as text: ./text.ts; the check of a model folder before it is
// loaded: src/pipeline/load-check.ts.
//
// Phases of one KNE edit, on top of the resident weights:
//   attribution  the path-summed gradient of every scored weight and bias (of one group of
//                layers when it is split into passes to fit: fitPlan; the integration path
//                scales the projections' outputs, so the weights are not copied), the forward's
//                saved activations, its head and loss at the target rows, and the backward's
//                transient gradients (with checkpointed layers, the recomputed layer's
//                activations among them);
//   update       f32 master, gradient and two Adam moments of every ensemble entry (bounded by
//                the kept units with the most entries: src/kne/update.ts trains them compactly),
//                the same activations, head and loss (and, with a KL term, each anchor batch's
//                forward and KL, and its reference logits), and the backward's transients.
// The host keeps one tensor at a time when loading and saving, one score per unit, and the
// snapshot of the ensemble's entries with their diff.

import { type BackendName, type DType, DTYPE_BYTES } from "../../engine/backend.ts";
import { scoredParams, unitShape } from "../kne/attribution.ts";
import { keptUnits } from "../kne/ensemble.ts";
import type { WorkShape } from "../edit/method.ts";
import { paramInfoFor } from "../model/build.ts";
import {
  type BufferSize,
  type ForwardMeasure,
  largerBuffer,
  measureForward,
  type TensorSize,
} from "./activations.ts";
import { attributionTransient, backwardLargest, updateTransient } from "./backward.ts";
import type { ModelConfig } from "../model/config.ts";
import { isMatrix } from "../model/dtype.ts";
import type { ParamInfo } from "../model/lm.ts";

/** What an edit's memory plan is made for: its work, backend and weight dtype. */
export interface PlanOptions extends WorkShape {
  /** The backend the edit runs on (on WASM the peaks include its allocator's rounding). */
  backend: BackendName;
  /** Device dtype of the weight matrices (default f32; norms and biases are always f32). */
  weightDtype?: DType;
  /**
   * Groups of consecutive layers attribution differentiates one at a time (default 1; at most
   * nLayers): gradient memory is one group's, the attribution passes are multiplied by it.
   */
  attributionChunks?: number;
  /**
   * Gradient checkpointing (CausalLM.checkpointLayers): forward keeps each layer's output only,
   * backward recomputes one layer at a time (default false).
   */
  checkpointLayers?: boolean;
}

export type { BufferSize, TensorSize };

/** What an edit needs on the device and the host, from config.json alone (planEdit). */
export interface MemoryPlan {
  /** The model's config the plan was made for. */
  config: ModelConfig;
  /** The options as planned: defaults filled in, lengths clamped to the context. */
  options: Required<PlanOptions>;
  /** Parameter counts: all, and those KNE scores (projection weights with their biases). */
  params: { total: number; scored: number };
  /**
   * Tensors the target forward keeps for backward through its last layer, in creation order, as
   * measured on the forward itself; per-layer ones once, with count = nLayers - 1, then the last
   * layer's (which goes on with the target rows only after its attention), named by the kernel
   * that wrote them.
   */
  forward: TensorSize[];
  /**
   * What the target forward and its loss keep beyond: their inputs (token ids, target rows,
   * targets, per-row weights), the head's at the target rows (the final norm's, the logits) and
   * the loss's, as measured on the real head and loss of the phase
   * (attribution or the update) that keeps more.
   */
  head: TensorSize[];
  /**
   * The KL term's tensors of one update step (none without it): each anchor batch's inputs (its
   * reference logits among them), its forward with per-layer ones once (count nLayers - 1) and
   * the last layer's, the head
   * at one row per anchor, and its KL, as measured on the real anchors and KL.
   */
  anchors: TensorSize[];
  /** Bytes per component (f32, and the weight matrices at weightDtype). */
  bytes: {
    weights: number;
    /** Attribution: the path-summed gradient of every scored weight and bias. */
    gradients: number;
    /** Saved activations of the target forward through its last layer (`forward`). */
    activations: number;
    /**
     * Checkpointed layers: one layer's activations, recomputed during backward (shown on its
     * own; the measured backward transients hold it).
     */
    recompute: number;
    /** The head, the loss and their inputs (`head`): the logits are [target rows, vocab]. */
    logits: number;
    /**
     * Bytes attribution's backward allocates above what its forward keeps, at its peak, measured
     * on the real backward (src/plan/backward.ts; the running sums are the gradients): dense
     * weight gradients, activation gradients, those summed into activations used more than once
     * (held until the step ends), and with checkpointed layers the recomputed one. Exact for the
     * measured cuts, an upper bound where the head's backward outweighs the layers'.
     */
    backwardTransient: number;
    /** The same for one update step: only the ensemble's units' gradients, the KL term's too. */
    updateTransient: number;
    /**
     * Update: the f32 master, gradient and two Adam moments of every ensemble entry (at most
     * the kept units' entries, largest units first).
     */
    optimizer: number;
    /**
     * Update with f16 weights: the f32 copy of a trained tensor (the largest scored one) that the
     * non-finite check after the last step makes, one tensor at a time (countNonfinite,
     * src/kne/update.ts); 0 with f32 weights.
     */
    finiteCheck: number;
    /** Update with a KL term: the `anchors` tensors. */
    locality: number;
    /**
     * The KL term's inputs (token ids, answer rows, reference logits) of every anchor batch,
     * held from before attribution to the edit's end; in the update, those of the step's
     * batches are part of `locality`.
     */
    anchorInputs: number;
    /**
     * Allocator rounding at the device peak: the WASM backend hands out blocks in size classes
     * at most 1/8 above the asked size (engine/wasm/allocator.ts); 0 on WebGPU (exact sizes).
     */
    rounding: number;
    /** Device bytes at the peak of each phase, weights and rounding included. */
    loadPeak: number;
    attributionPeak: number;
    updatePeak: number;
    /** max over the phases. */
    devicePeak: number;
    /**
     * Host-only bytes at the peak: the largest weight as f32 (saving streams them), one scored
     * weight and its gradient sum (attribution), or the ensemble's snapshot and changes.
     */
    hostExtra: number;
  };
  /**
   * The largest single buffer of the edit (the larger of its phases'), at the bytes it holds in
   * its dtype on the device: it must fit the device's buffer limit; operations split it by rows
   * over the per-binding limit.
   */
  largest: BufferSize;
  /**
   * The largest buffer of each phase: loading (the weights, matrices at weightDtype), attribution
   * (with the weights: the gradient sums, the forward's and backward's buffers kept or transient,
   * the held anchors'), the update (with the weights: each trained tensor's units as f32 masters,
   * Adam moments and snapshot, the whole tensor widened to f32 by its non-finite check when it is
   * f16, the forwards' and backward's buffers).
   */
  largestIn: { load: BufferSize; attribution: BufferSize; update: BufferSize };
  /** Approximate floating-point operations of one edit (forward = 2 flops per MAC). */
  flops: number;
}

// Bytes of one f32 element: activations, gradients and optimizer state are f32 on every backend.
const F32 = DTYPE_BYTES.f32;

/** An ensemble of every scored unit: the update's bound when the selection is not known. */
const EVERY_UNIT = { topP: 1, selection: "global", perLayerK: 1 } as const;

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A measured forward's tensors (src/plan/activations.ts) as the plan counts them: through its
 * last layer (before the layers, one layer's with count nLayers - 1, then the last layer's), and
 * beyond, with its loss (the inputs, then what the head and the loss keep).
 */
export function forwardTensors(
  c: ModelConfig,
  m: ForwardMeasure,
): { layers: TensorSize[]; head: TensorSize[] } {
  return {
    layers: [...m.before, ...m.layer.map((x) => ({ ...x, count: c.nLayers - 1 })), ...m.last],
    head: [...m.inputs, ...m.after],
  };
}

/** Total elements of a tensor list, counts included. */
export function totalElements(list: readonly TensorSize[]): number {
  return list.reduce((a, x) => a + x.elements * x.count, 0);
}

/**
 * The parameters of `c` with per-layer ones listed once (layer 0) and counted nLayers times,
 * and which of them KNE scores: built from a one-layer model, so that an absurd layer count in
 * a config costs nothing. With ffnUnit "neuron" a layer's FFN tensors make one list of units
 * (a neuron's entries over all of them), as the ensemble selects them.
 */
export function paramSizes(
  c: ModelConfig,
  ffnUnit: "projection" | "neuron" = "projection",
): {
  all: TensorSize[];
  scored: TensorSize[];
  matrices: Set<string>;
  /** Per scored weight: its units, the entries of each (its bias entry included), count. */
  units: { units: number; size: number; count: number }[];
} {
  const info = paramInfoFor({ ...c, nLayers: 1 });
  const size = (p: ParamInfo): TensorSize => ({
    name: p.name,
    elements: numel(p.shape),
    count: p.layer >= 0 ? c.nLayers : 1,
  });
  const byName = new Map(info.map((p) => [p.name, p]));
  // Every group: the plan bounds an edit scoring all of them.
  const weights = scoredParams({ paramInfo: info });
  const scored = weights.flatMap(({ info: w, bias }) => bias ? [w, byName.get(bias.name)!] : [w]);
  const unitList = (list: typeof weights) =>
    list.map(({ info: w, bias, axis }) => {
      const u = unitShape(w, axis);
      return { units: u.units, size: u.size + (bias ? 1 : 0), count: w.layer >= 0 ? c.nLayers : 1 };
    });
  let units = unitList(weights);
  if (ffnUnit === "neuron") {
    const ffn = scoredParams({ paramInfo: info }, "mlp", "neuron");
    const neuron = unitList(ffn);
    units = [
      ...unitList(weights.filter((w) => !w.info.group.startsWith("mlp_"))),
      { units: neuron[0].units, size: neuron.reduce((a, u) => a + u.size, 0), count: c.nLayers },
    ];
  }
  return {
    all: info.map(size),
    scored: scored.map(size),
    matrices: new Set(info.filter(isMatrix).map((p) => p.name)),
    units,
  };
}

/**
 * `opts` with every default filled in and every size clamped to the model: at least one row,
 * layer group and position, no sequence past the context, and the KL term's batches of a step
 * (its length buckets, else one batch of klRows x klSeqLen) and of the whole edit (absent: the
 * step's).
 */
function resolveOptions(config: ModelConfig, opts: PlanOptions): Required<PlanOptions> {
  const context = (n: number) => Math.max(1, Math.min(n, config.contextLength));
  const clampBatches = (bs: readonly { rows: number; seqLen: number }[]) =>
    bs.map((b) => ({ rows: Math.max(1, b.rows), seqLen: context(b.seqLen) }));
  const seqLen = context(opts.seqLen);
  const batch = Math.max(1, opts.batch);
  const klRows = opts.klRows ?? 0;
  const klSeqLen = context(opts.klSeqLen ?? opts.seqLen);
  const klBatches = klRows <= 0
    ? []
    : opts.klBatches && opts.klBatches.length > 0
    ? clampBatches(opts.klBatches)
    : [{ rows: klRows, seqLen: klSeqLen }];
  const klHeldBatches = klRows <= 0
    ? []
    : opts.klHeldBatches && opts.klHeldBatches.length > 0
    ? clampBatches(opts.klHeldBatches)
    : klBatches;
  return {
    updateSteps: 40,
    weightDtype: "f32",
    checkpointLayers: false,
    ensemble: EVERY_UNIT,
    ...opts,
    klRows,
    attributionChunks: Math.max(
      1,
      Math.min(Math.floor(opts.attributionChunks ?? 1), config.nLayers),
    ),
    seqLen,
    klSeqLen,
    batch,
    // Only the target positions go through the final norm and the head (CausalLM.forward's rows).
    targetTokens: Math.max(1, Math.min(batch * seqLen, opts.targetTokens ?? batch * seqLen)),
    klBatches,
    klHeldBatches,
  };
}

/** Entries of an ensemble of `kept` units: the units with the most entries bound it. */
function ensembleEntriesOf(units: ReturnType<typeof paramSizes>["units"], kept: number): number {
  let left = kept;
  let entries = 0;
  for (const u of [...units].sort((a, b) => b.size - a.size)) {
    const n = Math.min(left, u.units * u.count);
    entries += n * u.size;
    left -= n;
  }
  return entries;
}

/**
 * FLOPs of the edit: a forward's MACs are every projection weight (and bias, `projMacs`) once per
 * token, the head at its rows, and attention; backward costs about twice the forward, and
 * checkpointing runs the forward once more; each update step with a KL term also runs the
 * locality prompts (their head at one row each).
 */
function editFlops(config: ModelConfig, o: Required<PlanOptions>, projMacs: number): number {
  const fwdFlops = (rows: number, len: number, heads: number) =>
    2 * rows * len * projMacs + 2 * heads * config.vocabSize * config.dModel +
    4 * rows * config.nLayers * len * len * config.dModel;
  return (o.checkpointLayers ? 4 : 3) * (
    fwdFlops(o.batch, o.seqLen, o.targetTokens) *
      (o.igSteps * o.attributionChunks + o.updateSteps) +
    o.klBatches.reduce((n, b) => n + fwdFlops(b.rows, b.seqLen, b.rows), 0) * o.updateSteps
  );
}

/**
 * Plans the memory of one edit of `config` with the given work shape: arithmetic over the
 * parameter shapes and the activations measured from the forward (no weight is read or made).
 */
export function planMemory(config: ModelConfig, opts: PlanOptions): MemoryPlan {
  const o = resolveOptions(config, opts);
  const { klBatches, klHeldBatches } = o;
  const sizes = paramSizes(config, o.ensemble.ffnUnit);
  const total = totalElements(sizes.all);
  const scored = totalElements(sizes.scored);
  const ckpt = o.checkpointLayers;
  const headRows = o.targetTokens;
  // The target forward with its loss as each phase runs it, measured; the phases differ only in
  // the loss (attribution seeds the per-row loss, the update averages it): the larger is held.
  const measured = (loss: "attribution" | "update", checkpointed: boolean) =>
    measureForward(config, o.batch, o.seqLen, checkpointed, o.weightDtype, {
      loss,
      rows: headRows,
    });
  const target = (["attribution", "update"] as const).map((loss) =>
    forwardTensors(config, measured(loss, ckpt))
  );
  const forward = target[0].layers;
  const head = target.map((x) => x.head)
    .reduce((a, b) => totalElements(b) > totalElements(a) ? b : a);
  const biggestScored = Math.max(...sizes.scored.map((p) => p.elements), 0);

  // Bytes of a parameter list with the matrices at the weight dtype.
  const stored = (list: readonly TensorSize[]) =>
    list.reduce(
      (a, x) =>
        a + x.elements * x.count * (sizes.matrices.has(x.name) ? DTYPE_BYTES[o.weightDtype] : F32),
      0,
    );
  const weights = stored(sizes.all);
  // Every scored tensor is per-layer: a chunk of attribution holds the gradients of its layers.
  const chunkLayers = Math.ceil(config.nLayers / o.attributionChunks);
  const chunkScored = scored / config.nLayers * chunkLayers;
  const gradients = F32 * chunkScored;
  const activations = F32 * totalElements(forward);
  // Backward of a checkpointed layer holds that layer's activations again, one at a time (part
  // of the measured backward transients).
  const recompute = ckpt ? F32 * totalElements(measured("update", false).layer) : 0;
  const logits = F32 * totalElements(head);
  const totalUnits = sizes.units.reduce((a, u) => a + u.units * u.count, 0);
  const kept = keptUnits(totalUnits, config.nLayers, o.ensemble);
  const ensembleEntries = ensembleEntriesOf(sizes.units, kept);
  const optimizer = F32 * 4 * ensembleEntries;
  // Counted on top of a step's tensors, which it may outweigh for a small ensemble and short
  // prompts (most are freed by then, but the bound stays simple).
  const finiteCheck = o.weightDtype === "f16" ? F32 * biggestScored : 0;
  // The gradients the backward holds at once, measured on the real forward, loss and backward
  // of each phase (src/plan/backward.ts): dense weight gradients in attribution, only the
  // ensemble's units in the update (each tensor's, at most the kept units), with the KL term's
  // anchor batches when there is one, the recomputed layer included when checkpointed.
  const work = {
    batch: o.batch,
    seqLen: o.seqLen,
    headRows,
    checkpointed: ckpt,
    weightDtype: o.weightDtype,
  };
  const backwardTransient = attributionTransient(config, work);
  const updateWork = {
    ...work,
    units: kept,
    ffnUnit: o.ensemble.ffnUnit ?? "projection",
    klBatches,
  };
  const updateBackward = updateTransient(config, updateWork);
  // Each anchor batch of a step, measured on the real anchor and KL: its inputs (the unedited
  // reference logits among them), its forward (the head at each anchor's answer row) and KL.
  const anchorMeasure = (b: { rows: number; seqLen: number }) =>
    measureForward(config, b.rows, b.seqLen, ckpt, o.weightDtype, { loss: "anchor" });
  const anchors = klBatches.flatMap((b) => {
    const { layers, head } = forwardTensors(config, anchorMeasure(b));
    return [...layers, ...head];
  });
  const locality = F32 * totalElements(anchors);
  // The anchors are made before attribution and held to the edit's end (src/kne/kne.ts): their
  // inputs, the reference logits among them, are on the device in both phases, every group's
  // when a step forwards one group only.
  const anchorInputBytes = (bs: readonly { rows: number; seqLen: number }[]) =>
    F32 * bs.reduce((n, b) => n + totalElements(anchorMeasure(b).inputs), 0);
  const anchorInputs = anchorInputBytes(klHeldBatches);
  const otherGroups = Math.max(0, anchorInputs - anchorInputBytes(klBatches));
  const round = o.backend === "wasm" ? 1 / 8 : 0;
  const withRounding = (bytes: number) => Math.ceil(bytes * (1 + round));
  const loadPeak = withRounding(weights);
  const attributionPeak = withRounding(
    weights + gradients + activations + logits + backwardTransient + anchorInputs,
  );
  const updatePeak = withRounding(
    weights + optimizer + activations + logits + updateBackward + locality + otherGroups +
      finiteCheck,
  );
  const devicePeak = Math.max(loadPeak, attributionPeak, updatePeak);
  const rounding = devicePeak - Math.round(devicePeak / (1 + round));
  // Saving reads one weight at a time as f32; attribution reads a weight and its gradient sum
  // at a time and keeps one score per unit; the edit snapshots the ensemble's entries and diffs
  // them into changes (indices, before and after values: src/edit/snapshot.ts UnitSnapshot).
  const biggestParam = Math.max(...sizes.all.map((p) => p.elements), 0);
  const hostExtra = F32 *
    Math.max(biggestParam, 2 * biggestScored + totalUnits, 4 * ensembleEntries);

  // The largest buffer of each phase, each counted in the dtype it is held in. Loading uploads
  // each weight as it is kept (f16 matrices are converted on the host: src/model/weights.ts; one
  // with an entry beyond f16's range stays f32, which the headers cannot tell, and the loader
  // refuses it when that f32 buffer is over the device's limit); the weights stay through both
  // phases.
  const biggest = (list: readonly BufferSize[]) =>
    list.reduce(largerBuffer, { name: "(none)", bytes: 0, dtype: "f32", count: 1 });
  const load = biggest(sizes.all.map((x) => {
    const dtype = sizes.matrices.has(x.name) ? o.weightDtype : "f32";
    return { name: x.name, bytes: x.elements * DTYPE_BYTES[dtype], dtype, count: x.count };
  }));
  // The scored tensor with the most entries, as f32: attribution's gradient sum of it and the
  // dense gradient summed into it (./backward.ts measures the latter among the backward's
  // buffers); in the update, its units' master, gradient and Adam moments and their snapshot
  // (all units at most: the plan bounds an edit of every one), and, when it is f16, the f32 copy
  // its non-finite check makes of the whole tensor (countNonfinite, src/kne/update.ts).
  const topScored = sizes.scored.reduce(
    (a, x) => x.elements > a.elements ? x : a,
    { name: "(none)", elements: 0, count: 1 },
  );
  const scoredF32 = (what: string): BufferSize => ({
    name: `${what} of ${topScored.name}`,
    bytes: F32 * topScored.elements,
    dtype: "f32",
    count: topScored.count,
  });
  const attribution = biggest([
    load,
    scoredF32("gradient sum"),
    measured("attribution", ckpt).largest,
    backwardLargest(config, { attribution: work }),
    // The anchors are made before attribution (their reference logits by a forward).
    ...klHeldBatches.map((b) => anchorMeasure(b).largest),
  ]);
  const update = biggest([
    load,
    scoredF32(o.weightDtype === "f16" ? "f32 copy" : "f32 units"),
    measured("update", ckpt).largest,
    backwardLargest(config, { update: updateWork }),
    ...klBatches.map((b) => anchorMeasure(b).largest),
  ]);

  return {
    config,
    options: o,
    params: { total, scored },
    forward,
    head,
    anchors,
    bytes: {
      weights,
      gradients,
      activations,
      recompute,
      logits,
      backwardTransient,
      updateTransient: updateBackward,
      optimizer,
      finiteCheck,
      locality,
      anchorInputs,
      rounding,
      loadPeak,
      attributionPeak,
      updatePeak,
      devicePeak,
      hostExtra,
    },
    largest: largerBuffer(attribution, update),
    largestIn: { load, attribution, update },
    flops: editFlops(config, o, scored),
  };
}

/** What a backend can hold, as far as it can be known without allocating. */
