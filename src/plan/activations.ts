// The activations a forward keeps for backward, measured by running the real model forward
// (src/model/gpt2.ts, llama.ts) with recording on, on the measuring backend (no data, no
// arithmetic: engine/measure/backend.ts), and with it the edit's own loss (./losses.ts): the head
// at the target rows and the target cross-entropy, or an anchor batch's KL. The memory plan reads
// its activation, head, loss and locality sizes from here, so they cannot drift from the code. A
// model of 1 and one of 2 layers are measured; what the second adds is one layer's, which the
// plan counts for every layer but the last (a forward that reads some rows runs the last one on
// those rows only after its attention), so an 80-layer config costs what a 2-layer one does.

import { BackendError, type DType, DTYPE_BYTES } from "../../engine/backend.ts";
import { type MeasuredBuffer, MeasuringBackend } from "../../engine/measure/backend.ts";
import { param, type Var, withGrad } from "../autograd/variable.ts";
import { assembleModel, paramInfoFor } from "../model/build.ts";
import type { ModelConfig } from "../model/config.ts";
import type { CausalLM } from "../model/lm.ts";
import { isMatrix } from "../model/dtype.ts";
import { Tensor, tidy } from "../tensor/tensor.ts";
import { type Head, measuredLoss } from "./losses.ts";

/** A device tensor: its name and f32 element count, and how many like it (one per layer). */
export interface TensorSize {
  /** What it is, for the plan's report: a parameter's name, or the kernel that wrote it. */
  name: string;
  /** Elements in one such tensor. */
  elements: number;
  /** Number of such tensors (nLayers for per-layer ones; 1 otherwise). */
  count: number;
}

/**
 * One device buffer at the bytes it holds: its element count times its dtype's bytes (unrounded),
 * its dtype, and how many like it (one per layer).
 */
export interface BufferSize {
  /** What it is, for the plan's report (as TensorSize.name). */
  name: string;
  /** Bytes of one such buffer: elements times its dtype's bytes, before allocator rounding. */
  bytes: number;
  /** Its element type. */
  dtype: DType;
  /** Number of such buffers (one per layer for per-layer ones; 1 otherwise). */
  count: number;
}

/** The larger of two buffers (the first of equals). */
export function largerBuffer(a: BufferSize, b: BufferSize): BufferSize {
  return b.bytes > a.bytes ? b : a;
}

/** The buffers one forward and its loss allocate and keep, in creation order (each count 1). */
export interface ForwardMeasure {
  /**
   * Their inputs, allocated before the forward and named by the loss (./losses.ts): the token
   * ids, and the target rows, targets and per-row weights, or an anchor batch's reference logits.
   */
  inputs: TensorSize[];
  /** Before the first layer: the embeddings. */
  before: TensorSize[];
  /** One layer's: every layer's but the last. */
  layer: TensorSize[];
  /**
   * The last layer's: a whole layer's, or with rows read (a head's `rows`, CausalLM.forward) a
   * layer that goes on from its attention with those rows only.
   */
  last: TensorSize[];
  /**
   * After the last layer: the head's (the final norm's, the logits, named so) and the loss's.
   */
  after: TensorSize[];
  /**
   * The largest buffer the inputs, the forward and the loss allocate, kept or freed on the way
   * (a layer's temporaries, the head's): no buffer they make is larger.
   */
  largest: BufferSize;
}

/**
 * The model of `config` cut to `layers` layers on the measuring backend `be` (call inside a tidy
 * scope), the buffer ids of layer 0's parameters, of the final norm's, and of the matrices and the
 * output head's parameters (what the logits are written from: a tied head's matrix is the
 * embedding, GPT-J's head adds a bias). Parameters are allocated, never initialised: no host array
 * of a weight's size exists.
 */
export function measuredModel(
  be: MeasuringBackend,
  config: ModelConfig,
  layers: number,
  weightDtype: DType,
): { model: CausalLM; layer0: Set<number>; finalNorm: Set<number>; logitSources: Set<number> } {
  const c = { ...config, nLayers: layers };
  const params = new Map<string, Var>();
  const layer0 = new Set<number>(), finalNorm = new Set<number>();
  const logitSources = new Set<number>();
  for (const info of paramInfoFor(c)) {
    const dtype = isMatrix(info) ? weightDtype : "f32";
    const value = Tensor.empty(be, info.shape, dtype);
    if (info.layer === 0) layer0.add(value.buffer.id);
    if (info.layer < 0 && info.group === "norm") finalNorm.add(value.buffer.id);
    if (isMatrix(info) || info.group === "head") logitSources.add(value.buffer.id);
    params.set(info.name, param(value, info.name));
  }
  return { model: assembleModel(c, be, params), layer0, finalNorm, logitSources };
}

/**
 * The inputs and the kept buffers of a forward of `config` cut to `layers` layers and its loss,
 * on a fresh backend, and the ids of layer 0's parameters, of the final norm's and of what the
 * logits are written from (measuredModel).
 */
function keptBuffers(
  config: ModelConfig,
  layers: number,
  batch: number,
  t: number,
  checkpointed: boolean,
  weightDtype: DType,
  head: Head | undefined,
): {
  inputs: TensorSize[];
  kept: MeasuredBuffer[];
  layer0: Set<number>;
  finalNorm: Set<number>;
  logitSources: Set<number>;
  largest: BufferSize;
} {
  const be = new MeasuringBackend();
  return tidy(() => {
    const { model, layer0, finalNorm, logitSources } = measuredModel(
      be,
      config,
      layers,
      weightDtype,
    );
    model.checkpointLayers = checkpointed;
    const start = new Set(be.liveBuffers());
    // The largest buffer from here on: the inputs', the forward's and the loss's.
    be.resetPeak();
    const loss = measuredLoss(model, batch, t, head);
    const names = new Map(Object.entries(loss.inputs).map(([name, x]) => [x.buffer.id, name]));
    const inputs = be.liveBuffers().filter((b) => !start.has(b))
      .map((b) => sizeOf(b, names.get(b.id) ?? b.writer));
    const before = new Set(be.liveBuffers());
    withGrad(() => loss.run());
    const kept = be.liveBuffers().filter((b) => !before.has(b));
    const big = be.largestBuffer();
    const largest = big
      ? bufferSize(
        big,
        names.get(big.id) ??
          `forward ${big.sources.some((id) => logitSources.has(id)) ? "logits" : big.writer}`,
      )
      : { name: "(none)", bytes: 0, dtype: "f32" as const, count: 1 };
    return { inputs, kept, layer0, finalNorm, logitSources, largest };
  });
}

/** A measured buffer at the bytes it holds, as one buffer named `name`. */
export function bufferSize(b: MeasuredBuffer, name: string): BufferSize {
  return { name, bytes: b.length * DTYPE_BYTES[b.dtype], dtype: b.dtype, count: 1 };
}

function sameKind(a: MeasuredBuffer, b: MeasuredBuffer): boolean {
  return a.length === b.length && a.dtype === b.dtype && a.writer === b.writer;
}

function sizeOf(b: MeasuredBuffer, name: string): TensorSize {
  return { name, elements: (b.length * DTYPE_BYTES[b.dtype]) / 4, count: 1 };
}

const cache = new Map<string, ForwardMeasure>();
const CACHE_ENTRIES = 256;

/**
 * The tensors a recorded forward of `config` over ids [batch, t] and the loss `head` names keep
 * until backward (default: the logits of every row, no loss), split into their inputs, the part
 * before the layers, one layer's, and the part after. With `checkpointed` layers
 * (CausalLM.checkpointLayers) a layer keeps its output only. Memoised: the plan asks for the same
 * shapes many times (fitPlan).
 */
export function measureForward(
  config: ModelConfig,
  batch: number,
  t: number,
  checkpointed = false,
  weightDtype: DType = "f32",
  head?: Head,
): ForwardMeasure {
  const key = JSON.stringify([config, batch, t, checkpointed, weightDtype, head ?? null]);
  const hit = cache.get(key);
  if (hit) return hit;
  const measured = (layers: number) =>
    keptBuffers(config, layers, batch, t, checkpointed, weightDtype, head);
  const { inputs, kept: one, finalNorm, logitSources, largest: largestOne } = measured(1);
  const { kept: two, layer0, largest: largestTwo } = measured(2);
  const k = two.length - one.length;
  // In the one-layer forward its layer is the last: it ends where the final norm first reads its
  // parameters (rows a head reads are gathered inside it, after its attention).
  const norm = one.findIndex((b) => b.sources.some((id) => finalNorm.has(id)));
  const lastEnd = norm < 0 ? one.length : norm;
  // two = before + layer + last + after, one = before + last + after: a cut where both agree
  // before it and after the extra layer. Cuts a few buffers apart can agree (the embeddings'
  // sum and a layer's residual sum look alike): the layer starts where a kernel first reads a
  // parameter of layer 0, else at the latest cut that agrees and leaves the last layer a buffer.
  const agrees = (j: number) => {
    if (j + k > one.length) return false;
    for (let i = 0; i < j; i++) if (!sameKind(one[i], two[i])) return false;
    for (let i = j; i < one.length; i++) if (!sameKind(one[i], two[i + k])) return false;
    return true;
  };
  const cuts = k < 0 ? [] : [...Array(one.length + 1).keys()].filter(agrees);
  const cut = cuts.find((j) => two[j]?.sources.some((id) => layer0.has(id))) ??
    cuts.filter((j) => j < lastEnd).at(-1) ?? -1;
  if (cut < 0) {
    throw new BackendError(
      `${config.hfClass}: a forward with 2 layers does not keep one layer more than with 1 ` +
        `(${one.length} and ${two.length} buffers): the plan cannot scale it by layers`,
    );
  }
  // After the last layer only the head reads a matrix (and GPT-J's head a bias of its own): what
  // it writes is the logits.
  const m: ForwardMeasure = {
    inputs,
    before: one.slice(0, cut).map((b) => sizeOf(b, b.writer)),
    layer: two.slice(cut, cut + k).map((b) => sizeOf(b, `layer ${b.writer}`)),
    last: one.slice(cut, lastEnd).map((b) => sizeOf(b, `last layer ${b.writer}`)),
    after: one.slice(lastEnd).map((b) =>
      sizeOf(b, b.sources.some((id) => logitSources.has(id)) ? "logits" : b.writer)
    ),
    // A whole layer runs in the 2-layer cut only (the last goes on with the rows read): every
    // kind of buffer a forward of any depth makes is made by one of the two.
    largest: largerBuffer(largestOne, largestTwo),
  };
  if (cache.size >= CACHE_ENTRIES) cache.clear();
  cache.set(key, m);
  return m;
}
