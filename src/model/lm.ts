// What every causal LM in src/model/ offers: named parameters (Hugging Face names, HF storage
// layout, so an edited model saves back unchanged in form) and a differentiable forward pass; and
// DecoderLM, the state, parameter helpers and layer stack that GPT-2, Llama, GPT-NeoX, GPT-J and
// Gemma share (each writes its own block).

import { type Backend, BackendError } from "../../engine/backend.ts";
import { runBlock } from "../autograd/checkpoint.ts";
import * as A from "../autograd/ops.ts";
import type { Var } from "../autograd/variable.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { ModelConfig, Rotary } from "./config.ts";
import type { KVCache } from "./kvcache.ts";
import { ropeInvFreq } from "./rope.ts";

/** One parameter tensor of a model: its name, shape, layer and role. */
export interface ParamInfo {
  /** Hugging Face tensor name, e.g. transformer.h.3.mlp.c_proj.weight. */
  name: string;
  /** Its shape as the checkpoint stores it (Hugging Face layout, e.g. GPT-2's [in, out]). */
  shape: readonly number[];
  /** Layer index, or -1 for embeddings and the final norm/head. */
  layer: number;
  /** Parameter group for reports: attn_qkv, attn_out, mlp_in, mlp_out, norm, embed, head... */
  group: string;
  /** How the weight is applied: rows of "out_in" and columns of "in_out" are output units. */
  layout: "in_out" | "out_in" | "vector" | "embedding";
}

/** An untied output head `name` ([vocab, d], stored out x in), or nothing when it is tied. */
export function untiedHead(name: string, c: ModelConfig): ParamInfo[] {
  if (c.tieEmbeddings) return [];
  return [{ name, shape: [c.vocabSize, c.dModel], layer: -1, group: "head", layout: "out_in" }];
}

/** Points inside a block where hooks may read or replace activations. */
export type HookSite =
  /** Token embeddings before anything is added to them (layer -1), [batch*T, d]. */
  | "embed"
  /** A block's output, the residual stream after the layer, [batch*T, d]. */
  | "resid"
  /** Input of the FFN output projection (the FFN "keys"), [batch*T, dFF]. */
  | "mlp_key"
  /** Output of the FFN block before the residual add, [batch*T, d]. */
  | "mlp_out"
  /** Output of the attention block before the residual add, [batch*T, d]. */
  | "attn_out";

/**
 * Called at each site of each layer during forward; returning a Var replaces the activation
 * (ROME/MEMIT value edits, knowledge-neuron scaling), returning nothing just observes it.
 */
export type ForwardHook = (layer: number, site: HookSite, x: Var) => Var | void;

/**
 * Where a forward starts when not at the tokens: at block `layer`, from the residual stream `x`
 * [batch*T, d] that enters it (what layer - 1 outputs). The embeddings and the layers below are
 * not run, so a caller that holds them fixed computes them once (KNE's update below its lowest
 * ensemble layer).
 */
export interface LayerStart {
  /** The first block the forward runs (0-based). */
  layer: number;
  /** The residual stream entering that block, [batch*T, d] f32. */
  x: Tensor;
}

/** A causal language model on a backend (every architecture): its parameters and forward. */
export interface CausalLM {
  /** Its architecture and sizes, from config.json. */
  readonly config: ModelConfig;
  /** The device its parameters live on and its forward runs on. */
  readonly backend: Backend;
  /** Parameters by HF name, in a stable order. */
  readonly params: ReadonlyMap<string, Var>;
  /** Name, shape, layer, group and layout of every parameter the architecture has. */
  readonly paramInfo: readonly ParamInfo[];
  /**
   * Multiplies the output of every projection inside the layers (attention and FFN, bias
   * included; not the embeddings, norms or head) as if those weights were scaled by it: KNE's
   * attribution walks the integration path alpha·W this way without copying the weights.
   * 1 (the model itself) unless attribution is running.
   */
  projectionScale: number;
  /**
   * Gradient checkpointing: forward keeps only each layer's output, and backward runs each layer
   * again to differentiate it (src/autograd/checkpoint.ts), so activation memory is the layers'
   * outputs plus one layer's. The memory plan turns it on when that is the fastest edit that fits.
   * Ignored with hooks (they would see the layer twice) and with a KV cache (inference).
   */
  checkpointLayers: boolean;
  /**
   * Logits [batch*T, V] for token ids [batch, T] (f32 values), positions starting at 0.
   * Records the graph when grad mode is on. With a KV cache (inference only, under noGrad),
   * positions start at cache.length, earlier positions come from the cache and the new ones are
   * added to it; hooks then see only the new positions.
   * With `rows` ([n] indices into the batch*T positions, as f32 values), only those positions
   * go through the final norm and the LM head and the logits are [n, V]: a loss that reads a
   * few positions (an edit's target tokens, an anchor's answer) skips the head everywhere else.
   * Without hooks or a cache, the last layer also stops at the others after its attention:
   * its output projection, MLP and norm run on the rows read only (atRows).
   * With `start` (no cache) the forward begins at that layer from that residual stream; `ids`
   * then only gives the shape [batch, T].
   */
  forward(
    ids: Tensor,
    hook?: ForwardHook,
    cache?: KVCache,
    rows?: Tensor,
    start?: LayerStart,
  ): Var;
}

/**
 * `v` [positions, d] at `rows` only (gathered, scatter-add backward), or `v` itself without
 * rows. A layer's attention is the one step that mixes positions; every op after it acts on each
 * position alone, so a forward whose caller reads only some rows can gather them right after the
 * last layer's attention and give those rows the same values and gradients.
 */
export function atRows(v: Var, rows: Tensor | undefined): Var {
  return rows ? A.embedding(v, rows) : v;
}

/**
 * One decoder layer `l` on the residual stream `x`; `only` is set on the last layer when the
 * caller reads some rows: the layer goes on from its attention with those rows alone (atRows).
 */
export type LayerBlock = (l: number, x: Var, only: Tensor | undefined) => Var;

/** What a forward asked of the layer stack (CausalLM.forward's arguments). */
export interface StackRun {
  hook?: ForwardHook;
  cache?: KVCache;
  rows?: Tensor;
  start?: LayerStart;
  /** The new positions per sequence, by which the cache advances. */
  t: number;
}

/**
 * What every decoder class here holds beside its own forward: config, backend, parameters and
 * their layout, each layer's parameters (ParamInfo.layer, in paramInfo order: what a checkpointed
 * layer reads), and the layer stack they all run.
 */
export abstract class DecoderLM implements CausalLM {
  projectionScale = 1;
  checkpointLayers = false;
  readonly #layers: Var[][];
  /**
   * The rotary inverse frequencies (./rope.ts), computed on the host at the first forward: the
   * config's, and Gemma 3's sliding layers' (localRotaryTable).
   */
  #invFreq: Float32Array | null = null;
  #localInvFreq: Float32Array | null = null;

  constructor(
    readonly config: ModelConfig,
    readonly backend: Backend,
    readonly params: ReadonlyMap<string, Var>,
    readonly paramInfo: readonly ParamInfo[],
  ) {
    this.#layers = Array.from({ length: config.nLayers }, () => []);
    for (const p of paramInfo) if (p.layer >= 0) this.#layers[p.layer].push(params.get(p.name)!);
  }

  /**
   * The rotary table for one forward (Llama's, GPT-NeoX's and GPT-J's attention), uploaded: a few
   * hundred bytes, freed with the forward's other tensors.
   */
  protected rotaryTable(): Tensor {
    const c = this.config;
    this.#invFreq ??= ropeInvFreq(c.rotaryDims, c.ropeTheta, c.ropeScaling);
    return Tensor.fromArray(this.backend, this.#invFreq, [c.rotaryDims / 2]);
  }

  /** The rotary table of layers with a rotary of their own (Gemma 3's sliding layers). */
  protected localRotaryTable(rope: Rotary): Tensor {
    const c = this.config;
    this.#localInvFreq ??= ropeInvFreq(c.rotaryDims, rope.theta, rope.scaling);
    return Tensor.fromArray(this.backend, this.#localInvFreq, [c.rotaryDims / 2]);
  }

  /**
   * Qwen3's and Gemma 3's q_norm / k_norm: `norm` (the model's RMSNorm of a name's weight) over
   * each head's values of the projected rows `x`, the layer's parameter `name`.
   */
  protected headNorm(x: Var, name: string, norm: (rows: Var, name: string) => Var): Var {
    const hd = this.config.headDim;
    return A.reshape(norm(A.reshape(x, [x.value.size / hd, hd]), name), x.value.shape);
  }

  /** The parameter `name` (the names a forward reads are the architecture's ParamInfo). */
  protected param(name: string): Var {
    return this.params.get(name)!;
  }

  /**
   * `input` through the projection `name` of a layer (`name`.weight in `layout`, plus `name`.bias
   * where the model has one), scaled by projectionScale (the attribution path).
   */
  protected project(input: Var, name: string, layout: "in_out" | "out_in" = "out_in"): Var {
    const bias = this.params.get(`${name}.bias`) ?? null;
    return A.linear(input, this.param(`${name}.weight`), bias, layout, this.projectionScale);
  }

  /** The GELU the config names: the exact (erf) form or the tanh approximation. */
  protected gelu(x: Var): Var {
    return this.config.activation === "gelu_exact" ? A.geluErf(x) : A.gelu(x);
  }

  /** LayerNorm of `x` with `name`.weight and `name`.bias. */
  protected layerNorm(x: Var, name: string): Var {
    const c = this.config;
    return A.layerNorm(x, this.param(`${name}.weight`), this.param(`${name}.bias`), c.normEps);
  }

  /**
   * Rows of the embedding table `name` for ids [batch, t], as [batch*t, d], seen by the hook at
   * (-1, "embed") (before anything, such as GPT-2's positions, is added to them).
   */
  protected tokenEmbedding(name: string, ids: Tensor, hook?: ForwardHook): Var {
    const [batch, t] = ids.shape;
    const tokens = A.reshape(A.embedding(this.param(name), ids), [
      batch * t,
      this.config.dModel,
    ]);
    return hook?.(-1, "embed", tokens) ?? tokens;
  }

  /** CausalLM.forward: each decoder writes its own (embeddings, block, head). */
  abstract forward(...args: Parameters<CausalLM["forward"]>): Var;

  /**
   * The layer stack from `start`'s layer (else 0) on `x`. When nothing outside sees a layer's
   * insides (no hook, no cache), each layer runs as memory allows (runBlock: freed, recorded or
   * checkpointed) and the last one keeps only the rows read; otherwise those rows are gathered
   * after the stack. Returns the stream the final norm reads.
   */
  protected runLayers(x: Var, { hook, cache, rows, start, t }: StackRun, block: LayerBlock): Var {
    const last = this.config.nLayers - 1;
    const owned = !hook && !cache;
    for (let l = start?.layer ?? 0; l <= last; l++) {
      const only = owned && l === last ? rows : undefined;
      const run = (v: Var) => block(l, v, only);
      x = owned ? runBlock(x, this.#layers[l], run, this.checkpointLayers) : run(x);
      if (hook) x = hook(l, "resid", x) ?? x;
    }
    cache?.advance(t);
    // Gather the positions the caller reads (scatter-add backward), see CausalLM.forward.
    return rows && !owned ? A.embedding(x, rows) : x;
  }
}

/**
 * The first position of a forward over `t` new tokens in `batch` rows (cache.length, else 0),
 * after refusing what the forward cannot honour: positions past the context (`arch` names the
 * model in the message), and a LayerStart with a KV cache or of the wrong shape.
 */
export function forwardOrigin(
  arch: string,
  [batch, t]: readonly number[],
  cache: KVCache | undefined,
  start: LayerStart | undefined,
  config: ModelConfig,
): number {
  const pos0 = cache?.length ?? 0;
  // With or without a cache: a learned position table has no row past the context, and a rotary
  // model was trained on none (a trace of a long prompt read past GPT-2's table, silently).
  if (pos0 + t > config.contextLength) {
    throw new BackendError(
      `${arch}: positions ${pos0}..${pos0 + t} exceed the context length ${config.contextLength}`,
    );
  }
  if (start) checkStart(start, cache, batch * t, config);
  return pos0;
}

function checkStart(
  start: LayerStart,
  cache: KVCache | undefined,
  positions: number,
  config: ModelConfig,
): void {
  const [r, d] = start.x.shape;
  if (cache || !Number.isInteger(start.layer) || start.layer < 0 || start.layer >= config.nLayers) {
    throw new BackendError(
      `forward: cannot start at layer ${start.layer} (${config.nLayers} layers${
        cache ? ", with a KV cache" : ""
      })`,
    );
  }
  if (r !== positions || d !== config.dModel) {
    throw new BackendError(
      `forward: a start at layer ${start.layer} needs [${positions}, ${config.dModel}], got [${start.x.shape}]`,
    );
  }
}
