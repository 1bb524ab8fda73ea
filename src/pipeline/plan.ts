// The memory planner: what an edit needs on the device and on the host, computed from the config
// alone (no weight is read), and the check that refuses a model before loading it when it cannot
// fit. Every device buffer is f32 except the weight matrices, which may be f16. The activations
// (what autograd keeps until backward), the head's and the loss's tensors with their inputs, the
// KL term's and the backward's transient gradients are measured by running the models' own
// forward and the edit's own losses and backward on a backend that only counts allocations
// (src/pipeline/activations.ts, losses.ts, backward.ts), so none can drift from the code;
// tests/reliability/plan_test.ts checks them against the bytes a real edit allocates.
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

import { type Backend, type BackendName, type DType, DTYPE_BYTES } from "../../engine/backend.ts";
import { engineHost } from "../../engine/host.ts";
import { readModelConfig } from "../model/read-config.ts";
import { ModelFileError } from "../io/errors.ts";
import { openSafetensors, type SafetensorsFile } from "../io/safetensors.ts";
import { scoredParams, unitShape } from "../kne/attribution.ts";
import { keptUnits } from "../kne/ensemble.ts";
import type { WorkShape } from "../edit/method.ts";
import { paramInfoFor } from "../model/build.ts";
import { type ForwardMeasure, measureForward, type TensorSize } from "./activations.ts";
import { attributionTransient, updateTransient } from "./backward.ts";
import type { ModelConfig } from "../model/config.ts";
import { isMatrix, resolveWeightDtype, type WeightDtype } from "../model/dtype.ts";
import type { ParamInfo } from "../model/lm.ts";

export interface PlanOptions extends WorkShape {
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

export type { TensorSize };

export interface MemoryPlan {
  config: ModelConfig;
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
     * on the real backward (src/pipeline/backward.ts; the running sums are the gradients): dense
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
   * The largest single buffer (a weight, an activation, the logits or a moment): it must fit
   * the device's buffer limit; operations split it by rows over the per-binding limit.
   */
  largest: TensorSize;
  /** Approximate floating-point operations of one edit (forward = 2 flops per MAC). */
  flops: number;
}

const F32 = 4;

/** An ensemble of every scored unit: the update's bound when the selection is not known. */
const EVERY_UNIT = { topP: 1, selection: "global", perLayerK: 1 } as const;

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A measured forward's tensors (src/pipeline/activations.ts) as the plan counts them: through its
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
 * Plans the memory of one edit of `config` with the given work shape: arithmetic over the
 * parameter shapes and the activations measured from the forward (no weight is read or made).
 */
export function planMemory(config: ModelConfig, opts: PlanOptions): MemoryPlan {
  const o: Required<PlanOptions> = {
    updateSteps: 40,
    klRows: 0,
    weightDtype: "f32",
    checkpointLayers: false,
    targetTokens: opts.batch * opts.seqLen,
    ensemble: EVERY_UNIT,
    ...opts,
    attributionChunks: Math.max(
      1,
      Math.min(Math.floor(opts.attributionChunks ?? 1), config.nLayers),
    ),
    seqLen: Math.max(1, Math.min(opts.seqLen, config.contextLength)),
    klSeqLen: Math.max(1, Math.min(opts.klSeqLen ?? opts.seqLen, config.contextLength)),
    batch: Math.max(1, opts.batch),
    klBatches: [],
    klHeldBatches: [],
  };
  const clampBatches = (bs: readonly { rows: number; seqLen: number }[]) =>
    bs.map((b) => ({
      rows: Math.max(1, b.rows),
      seqLen: Math.max(1, Math.min(b.seqLen, config.contextLength)),
    }));
  // The KL term's forwards of one step: its length buckets, else one batch of klRows x klSeqLen;
  // and every batch the edit holds (absent: the step's).
  const klBatches = o.klRows <= 0
    ? []
    : opts.klBatches && opts.klBatches.length > 0
    ? clampBatches(opts.klBatches)
    : [{ rows: o.klRows, seqLen: o.klSeqLen }];
  const klHeldBatches = o.klRows <= 0
    ? []
    : opts.klHeldBatches && opts.klHeldBatches.length > 0
    ? clampBatches(opts.klHeldBatches)
    : klBatches;
  o.klBatches = klBatches;
  o.klHeldBatches = klHeldBatches;
  const sizes = paramSizes(config, o.ensemble.ffnUnit);
  const total = totalElements(sizes.all);
  const scored = totalElements(sizes.scored);
  const ckpt = o.checkpointLayers;
  // Only the target positions go through the final norm and the head (CausalLM.forward's rows).
  o.targetTokens = Math.max(1, Math.min(o.batch * o.seqLen, o.targetTokens));
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
  const d = config.dModel;

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
  // The kept units with the most entries bound the ensemble's entries.
  const totalUnits = sizes.units.reduce((a, u) => a + u.units * u.count, 0);
  const kept = keptUnits(totalUnits, config.nLayers, o.ensemble);
  let left = kept;
  let ensembleEntries = 0;
  for (const u of [...sizes.units].sort((a, b) => b.size - a.size)) {
    const n = Math.min(left, u.units * u.count);
    ensembleEntries += n * u.size;
    left -= n;
  }
  const optimizer = F32 * 4 * ensembleEntries;
  // The gradients the backward holds at once, measured on the real forward, loss and backward
  // of each phase (src/pipeline/backward.ts): dense weight gradients in attribution, only the
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
  const updateBackward = updateTransient(config, {
    ...work,
    units: kept,
    ffnUnit: o.ensemble.ffnUnit ?? "projection",
    klBatches,
  });
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
    weights + optimizer + activations + logits + updateBackward + locality + otherGroups,
  );
  const devicePeak = Math.max(loadPeak, attributionPeak, updatePeak);
  const rounding = devicePeak - Math.round(devicePeak / (1 + round));
  // Saving reads one weight at a time as f32; attribution reads a weight and its gradient sum
  // at a time and keeps one score per unit; the edit snapshots the ensemble's entries and diffs
  // them into changes (indices, before and after values: src/edit/snapshot.ts UnitSnapshot).
  const biggestParam = Math.max(...sizes.all.map((p) => p.elements), 0);
  const hostExtra = F32 *
    Math.max(biggestParam, 2 * biggestScored + totalUnits, 4 * ensembleEntries);

  let largest: TensorSize = { name: "(none)", elements: 0, count: 1 };
  for (const x of [...sizes.all, ...forward, ...head, ...anchors]) {
    if (x.elements > largest.elements) largest = x;
  }

  // MACs of one forward: every projection weight (and bias) once per token, the head, and
  // attention.
  const projMacs = scored;
  const fwdFlops = (rows: number, len: number, heads: number) =>
    2 * rows * len * projMacs + 2 * heads * config.vocabSize * d +
    4 * rows * config.nLayers * len * len * d;
  // Backward costs about twice the forward, and checkpointing runs the forward once more; each
  // update step with a KL term also runs the locality prompts (their head at one row each).
  const flops = (ckpt ? 4 : 3) * (
    fwdFlops(o.batch, o.seqLen, headRows) * (o.igSteps * o.attributionChunks + o.updateSteps) +
    klBatches.reduce((n, b) => n + fwdFlops(b.rows, b.seqLen, b.rows), 0) * o.updateSteps
  );

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
      locality,
      anchorInputs,
      rounding,
      loadPeak,
      attributionPeak,
      updatePeak,
      devicePeak,
      hostExtra,
    },
    largest,
    flops,
  };
}

/** What a backend can hold, as far as it can be known without allocating. */
export interface BackendLimits {
  backend: BackendName;
  /**
   * Device bytes still free (WASM: the wasm32 ceiling less what is allocated); null where the
   * API does not say (WebGPU).
   */
  deviceBytes: number | null;
  /** Device memory is system memory (WASM, and CPU fallback adapters such as lavapipe). */
  deviceIsHost: boolean;
  /** Bytes of system memory available now (Infinity when it cannot be read). */
  hostAvailable: number;
  /** Largest buffer one kernel binding may address (larger operands are split by rows). */
  maxBindingBytes: number;
  /** Largest buffer the device may create. */
  maxBufferBytes: number;
  description: string;
}

/** Reads the limits of a live backend (no allocation) and the system memory available now. */
export function backendLimits(backend: Backend): BackendLimits {
  const hostAvailable = engineHost().systemMemoryAvailable();
  const device = backend.limits();
  return {
    backend: backend.name,
    deviceBytes: device.freeBytes,
    deviceIsHost: device.isHostMemory,
    hostAvailable,
    maxBindingBytes: backend.maxBindingElements * F32,
    maxBufferBytes: device.maxBufferBytes,
    description: backend.description,
  };
}

/** A model (or an edit of it) does not fit the backend or the machine. */
export class ResourceError extends Error {
  override name = "ResourceError";
  constructor(message: string, readonly plan: MemoryPlan, readonly limits: BackendLimits) {
    super(message);
  }
}

/** "1.50 GB"-style sizes (decimal units; GiB for the wasm32 ceiling is written out). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let u = 0;
  while (Math.abs(n) >= 1000 && u < units.length - 1) (n /= 1000, u++);
  return `${u === 0 ? n.toFixed(0) : n.toFixed(2)} ${units[u]}`;
}

function tensorLabel(x: TensorSize): string {
  return x.count > 1 ? `${x.name}, one of ${x.count} per-layer` : x.name;
}

/** The reasons a plan does not fit, empty when it fits. `phase` "load" checks the weights only. */
export function planProblems(
  plan: MemoryPlan,
  limits: BackendLimits,
  phase: "load" | "edit",
): string[] {
  const b = plan.bytes;
  const device = phase === "load" ? b.loadPeak : b.devicePeak;
  const what = phase === "load" ? "to load the weights" : "to edit";
  const problems: string[] = [];
  const where = limits.backend === "wasm" ? "the WASM backend" : "the WebGPU device";
  if (limits.deviceBytes !== null && device > limits.deviceBytes) {
    problems.push(
      `${what} needs ${formatBytes(device)} on ${where}, but ${
        limits.backend === "wasm"
          ? `wasm32 memory is capped at 4 GiB (${formatBytes(limits.deviceBytes)} usable)`
          : `it has ${formatBytes(limits.deviceBytes)}`
      }`,
    );
  }
  const host = (limits.deviceIsHost ? device : 0) + b.hostExtra;
  if (host > limits.hostAvailable) {
    problems.push(
      `${what} needs ${formatBytes(host)} of system memory${
        limits.deviceIsHost ? ` (${formatBytes(device)} device buffers live there)` : ""
      }, but ${formatBytes(limits.hostAvailable)} is available`,
    );
  }
  const largest = phase === "load"
    ? paramSizes(plan.config).all.reduce((a, x) => x.elements > a.elements ? x : a)
    : plan.largest;
  const largestBytes = F32 * largest.elements;
  // Operands over the per-binding limit are split into row chunks (src/tensor/chunk.ts), so a
  // buffer only has to fit the device's largest buffer, and one row the binding limit.
  if (largestBytes > limits.maxBufferBytes) {
    problems.push(
      `the largest buffer (${tensorLabel(largest)}, ${formatBytes(largestBytes)}) exceeds ` +
        `${where}'s limit of ${formatBytes(limits.maxBufferBytes)} per buffer`,
    );
  }
  const c = plan.config;
  const row = F32 *
    Math.max(
      c.vocabSize,
      c.dFF,
      3 * c.dModel,
      phase === "load" ? 0 : Math.max(plan.options.seqLen, plan.options.klSeqLen),
    );
  if (row > limits.maxBindingBytes) {
    problems.push(
      `one row of ${formatBytes(row)} (vocabulary ${c.vocabSize}, ff ${c.dFF}) exceeds ` +
        `${where}'s limit of ${formatBytes(limits.maxBindingBytes)} per binding, below which ` +
        `operations split their operands`,
    );
  }
  return problems;
}

/**
 * The plan of `config` for `opts` that fits `limits` in the least time (by its flops): over the
 * attribution chunks (at least opts.attributionChunks: more groups of layers lower attribution's
 * gradients at one integrated-gradient pass per group) and checkpointed layers or not (lower
 * activations in both phases at one more forward per step; always on when opts asks for it).
 * Ties go to fewer chunks without checkpointing. When nothing fits, the plan with the lowest
 * device peak, for planProblems to report.
 */
export function fitPlan(config: ModelConfig, opts: PlanOptions, limits: BackendLimits): MemoryPlan {
  let fastest: MemoryPlan | null = null, smallest: MemoryPlan | null = null;
  for (const checkpointLayers of opts.checkpointLayers ? [true] : [false, true]) {
    let seenLayers = 0;
    for (
      let chunks = Math.max(1, opts.attributionChunks ?? 1);
      chunks <= config.nLayers;
      chunks++
    ) {
      // Chunk counts that give the same group size plan the same memory: try each size once.
      const layers = Math.ceil(config.nLayers / chunks);
      if (layers === seenLayers) continue;
      seenLayers = layers;
      const plan = planMemory(config, { ...opts, attributionChunks: chunks, checkpointLayers });
      if (planProblems(plan, limits, "edit").length === 0) {
        if (!fastest || plan.flops < fastest.flops) fastest = plan;
      } else if (!smallest || plan.bytes.devicePeak < smallest.bytes.devicePeak) smallest = plan;
    }
  }
  return fastest ?? smallest ?? planMemory(config, opts);
}

/** The plan as aligned text lines (for `--plan`). */
export function formatPlan(plan: MemoryPlan, limits?: BackendLimits): string {
  const c = plan.config, b = plan.bytes, o = plan.options;
  const row = (k: string, v: number, note = "") =>
    `  ${k.padEnd(22)} ${formatBytes(v).padStart(11)}${note ? `  ${note}` : ""}`;
  const lines = [
    `memory plan: ${c.hfClass}, ${c.nLayers} layers, d ${c.dModel}, ff ${c.dFF}, vocab ${c.vocabSize}`,
    `  ${plan.params.total.toLocaleString("en-US")} parameters, ${
      plan.params.scored.toLocaleString("en-US")
    } scored by attribution`,
    `  weights: matrices ${o.weightDtype}, norms and biases f32`,
    `  work: batch ${o.batch} x ${o.seqLen} tokens, ${o.igSteps} IG steps, <= ${o.updateSteps} update steps` +
    (o.klRows
      ? `, KL over ${o.klRows} rows of ${o.klSeqLen} tokens` +
        (o.klBatches.length > 1 ? ` at most, in ${o.klBatches.length} length buckets` : "")
      : "") +
    `, backend ${o.backend}`,
    o.attributionChunks > 1
      ? `  attribution: ${o.attributionChunks} passes over groups of <= ${
        Math.ceil(c.nLayers / o.attributionChunks)
      } layers (to fit; scores unchanged, ${o.attributionChunks}x the attribution time)`
      : `  attribution: one pass over all ${c.nLayers} layers`,
    ...(o.checkpointLayers
      ? [
        "  checkpointed layers: backward recomputes each layer (to fit; one more forward per step)",
      ]
      : []),
    row("weights", b.weights),
    row(
      "gradients",
      b.gradients,
      o.attributionChunks > 1
        ? "one per scored weight and bias of one layer group"
        : "one per scored weight and bias",
    ),
    row(
      "activations",
      b.activations,
      `${
        totalElements(plan.forward.map((x) => ({ ...x, elements: 1 })))
      } tensors kept for backward`,
    ),
    ...(b.recompute
      ? [row("recomputed layer", b.recompute, "checkpointing, one at a time, in the transients")]
      : []),
    row(
      "head + loss",
      b.logits,
      `${o.targetTokens} target rows: inputs, final norm, logits, loss; measured`,
    ),
    row("backward transient", b.backwardTransient, "attribution, measured"),
    row("  in the update", b.updateTransient, "measured"),
    row(
      "optimizer (update)",
      b.optimizer,
      `f32 master, grad, Adam m and v of ${
        o.ensemble.selection === "global"
          ? `top ${o.ensemble.topP}`
          : `${o.ensemble.perLayerK}/layer`
      } of the units (the largest)`,
    ),
    ...(b.locality
      ? [row("KL locality", b.locality, "anchors' inputs and reference logits, forwards, KL")]
      : []),
    ...(b.anchorInputs
      ? [row("  held anchors", b.anchorInputs, "every batch's inputs, through both phases")]
      : []),
    ...(b.rounding
      ? [row("allocator rounding", b.rounding, "WASM size classes, at most 1/8 per block")]
      : []),
    row("peak: attribution", b.attributionPeak),
    row("peak: update", b.updatePeak),
    row("peak on device", b.devicePeak),
    row("host extra", b.hostExtra, "max: a weight at save, a weight + its sum, snapshot + diff"),
    `  largest buffer: ${tensorLabel(plan.largest)} (${formatBytes(F32 * plan.largest.elements)})`,
    `  about ${(plan.flops / 1e9).toFixed(plan.flops < 1e10 ? 2 : 0)} GFLOP per edit`,
  ];
  if (limits) {
    lines.push(
      `backend: ${limits.description}: device ${
        limits.deviceBytes === null ? "size not reported" : formatBytes(limits.deviceBytes)
      }, binding limit ${formatBytes(limits.maxBindingBytes)}, buffer limit ${
        formatBytes(limits.maxBufferBytes)
      }, system memory ${
        Number.isFinite(limits.hostAvailable)
          ? `available ${formatBytes(limits.hostAvailable)}`
          : "not measured (only the device is checked)"
      }`,
    );
    const problems = planProblems(plan, limits, "edit");
    lines.push(problems.length === 0 ? "fits: yes" : `fits: NO\n  - ${problems.join("\n  - ")}`);
  }
  return lines.join("\n");
}

/** The stored dtypes of a checkpoint's 2-D tensors (its weight matrices). */
function matrixDtypes(file: SafetensorsFile): string[] {
  return [...file.tensors.values()].filter((t) => t.shape.length === 2).map((t) => t.dtype);
}

/**
 * The device dtype `want` gives the matrices of the checkpoint in `dir` on `backend`, from the
 * header alone (for --plan, which does not load).
 */
export async function weightDtypeFor(
  dir: string,
  backend: Backend,
  want: WeightDtype,
): Promise<DType> {
  if (want !== "auto") return resolveWeightDtype(want, backend, []);
  const file = await openSafetensors(`${dir}/model.safetensors`);
  try {
    return resolveWeightDtype(want, backend, matrixDtypes(file));
  } finally {
    file.close();
  }
}

export interface CheckResult {
  plan: MemoryPlan;
  limits: BackendLimits;
  /** Tensors and bytes the checkpoint file stores (as declared by its header). */
  file: { tensors: number; bytes: number };
}

/** Default work for a load-only check: one row of the full context. */
const LOAD_WORK: WorkShape = { seqLen: 1, batch: 1, igSteps: 1 };

/** The folder's model.safetensors, opened (header read); a missing file is a ModelFileError. */
export async function openCheckpoint(dir: string): Promise<SafetensorsFile> {
  const path = `${dir}/model.safetensors`;
  try {
    return await openSafetensors(path);
  } catch (e) {
    if ((e as Error).cause instanceof Deno.errors.NotFound) {
      throw new ModelFileError(
        path,
        "model.safetensors",
        "file not found (is this a model folder?)",
      );
    }
    throw e;
  }
}

/**
 * Reads `<dir>/config.json` and the header of `<dir>/model.safetensors` (no tensor data), plans
 * the memory and throws ResourceError naming what is needed and what is available when the
 * model does not fit `backend`: the weights alone when `work` is absent, the whole edit when it
 * is given. Config and file errors are the usual ConfigError / ModelFileError.
 */
export async function checkBeforeLoad(
  dir: string,
  backend: Backend,
  work?: WorkShape,
  dtype: WeightDtype = "auto",
): Promise<CheckResult> {
  const config = await readModelConfig(dir);
  const file = await openCheckpoint(dir);
  let bytes = 0;
  const tensors = file.tensors.size;
  for (const t of file.tensors.values()) bytes += t.end - t.begin;
  const weightDtype = resolveWeightDtype(dtype, backend, matrixDtypes(file));
  file.close();
  const limits = backendLimits(backend);
  const opts = { ...(work ?? LOAD_WORK), backend: backend.name, weightDtype };
  const plan = work ? fitPlan(config, opts, limits) : planMemory(config, opts);
  const problems = planProblems(plan, limits, work ? "edit" : "load");
  if (problems.length > 0) {
    throw new ResourceError(
      `${dir}: ${config.hfClass} with ${
        plan.params.total.toLocaleString("en-US")
      } parameters does not fit ${limits.description}:\n  - ${problems.join("\n  - ")}\n` +
        `(checked before reading any weight; \`deno task edit --plan\` prints the full plan)`,
      plan,
      limits,
    );
  }
  return { plan, limits, file: { tensors, bytes } };
}
