// Reads a Hugging Face config.json into the normalised ModelConfig (./config.ts).
// Only what the engine computes exactly is accepted: anything that would change the maths
// (rope scaling, other activations, extra biases, sliding windows we cannot honour) is a
// ConfigError naming the file and the field, never a silently different model.

import type { GemmaSettings, ModelConfig, RopeScaling, Rotary } from "./config.ts";
import { ConfigError } from "../io/errors.ts";
import { joinPath, readJsonFile } from "../io/files.ts";

export { ConfigError };

const GPT2_CLASSES = ["GPT2LMHeadModel"];
const LLAMA_CLASSES = [
  "LlamaForCausalLM",
  "MistralForCausalLM",
  "Qwen2ForCausalLM",
  "Qwen3ForCausalLM",
];
const NEOX_CLASSES = ["GPTNeoXForCausalLM"];
const GPTJ_CLASSES = ["GPTJForCausalLM"];
/** Gemma's classes, by version (GemmaSettings.version). */
const GEMMA_CLASSES: Record<string, GemmaSettings["version"]> = {
  GemmaForCausalLM: 1,
  Gemma2ForCausalLM: 2,
  Gemma3ForCausalLM: 3,
};
export const SUPPORTED_ARCHITECTURES: readonly string[] = [
  ...GPT2_CLASSES,
  ...LLAMA_CLASSES,
  ...NEOX_CLASSES,
  ...GPTJ_CLASSES,
  ...Object.keys(GEMMA_CLASSES),
];

/** Classes of families read here that are refused by name, with the reason. */
const REFUSED_CLASSES: Record<string, string> = {
  Gemma3ForConditionalGeneration:
    "Gemma 3's multimodal model (4B and larger: a vision tower beside the text layers, its " +
    "text config nested under text_config) is not read; its text-only class Gemma3ForCausalLM " +
    "(model_type gemma3_text, Gemma 3 1B) is",
};

/** model_type → class, for old configs without an `architectures` list. */
const MODEL_TYPES: Record<string, string> = {
  gpt2: "GPT2LMHeadModel",
  llama: "LlamaForCausalLM",
  mistral: "MistralForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  qwen3: "Qwen3ForCausalLM",
  gpt_neox: "GPTNeoXForCausalLM",
  gptj: "GPTJForCausalLM",
  gemma: "GemmaForCausalLM",
  gemma2: "Gemma2ForCausalLM",
  gemma3_text: "Gemma3ForCausalLM",
  gemma3: "Gemma3ForConditionalGeneration",
};

/** Reads and normalises `<dir>/config.json`. */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const file = joinPath(dir, "config.json");
  const json = await readJsonFile(
    file,
    (detail, cause) => new ConfigError(file, null, detail, { cause }),
  );
  return parseModelConfig(json, file);
}

type Json = Record<string, unknown>;

/** Field readers that throw ConfigError naming `source` and the field. */
class Fields {
  /** `prefix` names a nested object's fields in errors ("rope_scaling."). */
  constructor(readonly source: string, readonly json: Json, readonly prefix = "") {}

  fail(field: string | null, detail: string): never {
    throw new ConfigError(this.source, field === null ? null : this.prefix + field, detail);
  }

  /** The object at `field` as Fields, or null when absent or null. */
  object(field: string): Fields | null {
    const v = this.json[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== "object" || Array.isArray(v)) this.fail(field, "must be an object");
    return new Fields(this.source, v as Json, `${this.prefix}${field}.`);
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  /** A positive integer; `def` when absent or null (required when `def` is undefined). */
  int(field: string, def?: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(field, "required field is missing");
      return def;
    }
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      this.fail(field, `must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** A positive finite number. */
  num(field: string, def?: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(field, "required field is missing");
      return def;
    }
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      this.fail(field, `must be a positive number, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  bool(field: string, def: boolean): boolean {
    const v = this.json[field];
    if (v === undefined || v === null) return def;
    if (typeof v !== "boolean") this.fail(field, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  str(field: string, def: string): string {
    const v = this.json[field];
    if (v === undefined || v === null) return def;
    if (typeof v !== "string") this.fail(field, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A token id, a list of them (the first is taken), or null. */
  tokenId(field: string): number | null {
    let v = this.json[field];
    if (Array.isArray(v)) v = v.length === 0 ? null : v[0];
    if (v === undefined || v === null) return null;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      this.fail(field, `must be a non-negative integer token id, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** The field must be absent, null, or equal to `ok`. */
  expect(field: string, ok: unknown, why: string): void {
    const v = this.json[field];
    if (v !== undefined && v !== null && v !== ok) {
      this.fail(field, `${JSON.stringify(v)} is unsupported (${why})`);
    }
  }
}

/** Normalises a parsed config.json; `source` names it in errors. */
export function parseModelConfig(json: unknown, source: string): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigError(source, null, "config is not a JSON object");
  }
  const f = new Fields(source, json as Json);
  const hfClass = architectureOf(f);
  const config = GPT2_CLASSES.includes(hfClass)
    ? gpt2(f, hfClass)
    : NEOX_CLASSES.includes(hfClass)
    ? neox(f, hfClass)
    : GPTJ_CLASSES.includes(hfClass)
    ? gptj(f, hfClass)
    : Object.hasOwn(GEMMA_CLASSES, hfClass)
    ? gemma(f, hfClass, GEMMA_CLASSES[hfClass])
    : llama(f, hfClass);
  // An explicit head_dim (Llama family) need not divide the width, nor Gemma's (256 by default).
  const explicitHeads = (config.architecture === "llama" && f.has("head_dim")) ||
    config.architecture === "gemma";
  if (config.dModel % config.nHeads !== 0 && !explicitHeads) {
    f.fail(
      GPT2_CLASSES.includes(hfClass) || GPTJ_CLASSES.includes(hfClass)
        ? "n_head"
        : "num_attention_heads",
      `${config.nHeads} heads do not divide the width ${config.dModel}`,
    );
  }
  if (config.nHeads % config.nKvHeads !== 0) {
    f.fail(
      "num_key_value_heads",
      `${config.nKvHeads} key/value heads do not divide the ${config.nHeads} attention heads`,
    );
  }
  for (const field of ["bos_token_id", "eos_token_id"] as const) {
    const id = field === "bos_token_id" ? config.bosTokenId : config.eosTokenId;
    if (id !== null && id >= config.vocabSize) {
      f.fail(field, `token id ${id} is outside the vocabulary of ${config.vocabSize}`);
    }
  }
  return config;
}

function architectureOf(f: Fields): string {
  const archs = f.json.architectures;
  if (archs === undefined || archs === null) {
    const type = f.json.model_type;
    if (typeof type === "string" && Object.hasOwn(MODEL_TYPES, type)) {
      const cls = MODEL_TYPES[type];
      if (Object.hasOwn(REFUSED_CLASSES, cls)) {
        f.fail("model_type", `${JSON.stringify(type)} is ${cls}: ${REFUSED_CLASSES[cls]}`);
      }
      return cls;
    }
    f.fail(
      "architectures",
      `missing, and model_type ${JSON.stringify(type)} is not one of ${
        Object.keys(MODEL_TYPES).filter((t) => !Object.hasOwn(REFUSED_CLASSES, MODEL_TYPES[t]))
          .join(", ")
      }`,
    );
  }
  if (!Array.isArray(archs) || archs.length === 0 || !archs.every((a) => typeof a === "string")) {
    f.fail(
      "architectures",
      `must be a non-empty list of class names, got ${JSON.stringify(archs)}`,
    );
  }
  const known = archs.find((a) => SUPPORTED_ARCHITECTURES.includes(a));
  const refused = archs.find((a) => Object.hasOwn(REFUSED_CLASSES, a));
  if (known === undefined && refused !== undefined) {
    f.fail("architectures", `${refused}: ${REFUSED_CLASSES[refused]}`);
  }
  if (known === undefined) {
    f.fail(
      "architectures",
      `unknown architecture ${archs.join(", ")} (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`,
    );
  }
  return known;
}

/** transformers' GELU names (ACT2FN): the tanh form under three names, and the exact one. */
const GELUS: Record<string, ModelConfig["activation"]> = {
  gelu_new: "gelu_tanh",
  gelu_pytorch_tanh: "gelu_tanh",
  gelu_fast: "gelu_tanh",
  gelu: "gelu_exact",
};

/** The GELU form of `field` (default `def`), refused when it names another activation. */
function gelu(f: Fields, field: string, def: string): ModelConfig["activation"] {
  const act = f.str(field, def);
  const form = GELUS[act];
  if (form === undefined) {
    f.fail(
      field,
      `${JSON.stringify(act)} is unsupported (only GELU: ${Object.keys(GELUS).join(", ")})`,
    );
  }
  return form;
}

/** The fields GPT-2 and GPT-J name alike (n_embd, n_head, n_layer, n_positions, n_inner...). */
function gpt2Fields(f: Fields) {
  const activation = gelu(f, "activation_function", "gelu_new");
  const dModel = f.int("n_embd");
  const nHeads = f.int("n_head");
  return {
    vocabSize: f.int("vocab_size"),
    contextLength: f.int("n_positions"),
    dModel,
    nLayers: f.int("n_layer"),
    nHeads,
    nKvHeads: nHeads,
    headDim: dModel / nHeads,
    dFF: f.int("n_inner", 4 * dModel),
    normEps: f.num("layer_norm_epsilon", 1e-5),
    qkNorm: false,
    activation,
    bosTokenId: f.tokenId("bos_token_id"),
    eosTokenId: f.tokenId("eos_token_id"),
  };
}

function gpt2(f: Fields, hfClass: string): ModelConfig {
  f.expect("scale_attn_weights", true, "attention must be scaled by 1/sqrt(head dim)");
  f.expect("scale_attn_by_inverse_layer_idx", false, "per-layer attention scaling");
  const sizes = gpt2Fields(f);
  return {
    ...sizes,
    architecture: "gpt2",
    hfClass,
    rotaryDims: sizes.headDim,
    ropeTheta: 10000,
    ropeScaling: null,
    tieEmbeddings: f.bool("tie_word_embeddings", true),
    // GPT-2's fused c_attn always has a bias.
    qkvBias: true,
    parallelResidual: false,
  };
}

/**
 * GPT-J (GPTJForCausalLM): GPT-2's field names, one LayerNorm feeding attention and FFN side by
 * side (the parallel residual), q/k/v/out projections without biases, rotary positions of base
 * 10000 on each head's first rotary_dim values (64 when absent, transformers' default) turned in
 * interleaved pairs, and an output head with a bias, untied unless tie_word_embeddings.
 * rotary_dim null makes transformers take frequencies over the whole width n_embd, which fits a
 * head (and is read as all of it) only with one head; with more it cannot run, and is refused.
 */
function gptj(f: Fields, hfClass: string): ModelConfig {
  const sizes = gpt2Fields(f);
  const { headDim, nHeads } = sizes;
  if (f.json.rotary_dim === null && nHeads !== 1) {
    f.fail(
      "rotary_dim",
      `null turns each head by frequencies over the whole width ${sizes.dModel}, which fit a ` +
        `head only when n_head is 1, not ${nHeads} (transformers cannot run it either)`,
    );
  }
  const rotaryDims = f.json.rotary_dim === null ? headDim : f.int("rotary_dim", 64);
  if (
    Number.isInteger(headDim) && (rotaryDims < 2 || rotaryDims % 2 !== 0 || rotaryDims > headDim)
  ) {
    f.fail(
      "rotary_dim",
      `${rotaryDims} values of a head of ${headDim}: rotary needs an even number from 2 to the ` +
        "head size",
    );
  }
  return {
    ...sizes,
    architecture: "gptj",
    hfClass,
    rotaryDims,
    ropeTheta: 10000,
    ropeScaling: null,
    tieEmbeddings: f.bool("tie_word_embeddings", false),
    qkvBias: false,
    parallelResidual: true,
  };
}

/** Rotary scaling types Gemma's layers are read with (linear: Gemma 3's global layers). */
const GEMMA_ROPE_TYPES = ["default", "linear"];

/**
 * Gemma (GemmaForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM), as transformers' modeling_gemma,
 * modeling_gemma2 and modeling_gemma3 run it: the Llama layout without biases and a head size of
 * its own (head_dim, 256 by default), the embedding table tied to the head and its rows scaled by
 * sqrt(hidden_size), RMSNorm as x / rms * (1 + weight), a gated tanh-GELU FFN (GeGLU). Gemma 2
 * adds a norm after attention and one after the FFN, scores scaled by query_pre_attn_scalar,
 * soft-capped scores and logits (50 and 30 unless given, null for none), and sliding-window
 * attention on every other layer; Gemma 3 q_norm / k_norm, no soft-capping unless given, and
 * sliding layers (5 of 6 by sliding_window_pattern, or layer_types) that take their own rotary
 * base (rope_local_base_freq). The context is capped at sliding_window: within it a sliding
 * layer attends to every earlier position, as a full one does, and beyond it the engine would
 * compute something else.
 */
function gemma(f: Fields, hfClass: string, version: GemmaSettings["version"]): ModelConfig {
  f.expect("attention_bias", false, "biases on the attention projections");
  f.expect("use_bidirectional_attention", false, "bidirectional attention (EmbeddingGemma)");
  const dModel = f.int("hidden_size");
  const nHeads = f.int("num_attention_heads");
  const nKvHeads = f.int("num_key_value_heads", nHeads);
  const nLayers = f.int("num_hidden_layers");
  const headDim = f.int("head_dim", 256);
  if (headDim % 2 !== 0) f.fail("head_dim", `head dim ${headDim} is odd; rotary needs it even`);
  const { global, local } = gemmaRope(f, version);
  // Absent: transformers' default; null: none.
  const cap = (field: string, def: number | null) =>
    f.json[field] === undefined ? def : f.json[field] === null ? null : f.num(field);
  const sliding = version === 1 ? [] : slidingLayers(f, version, nLayers);
  const window = version === 1 || f.json.sliding_window === null
    ? null
    : f.int("sliding_window", 4096);
  const slides = "period" in sliding ? sliding.period > 1 : sliding.includes(true);
  let contextLength = Math.min(f.int("max_position_embeddings", 8192), global.contextCap);
  if (window !== null && slides) contextLength = Math.min(contextLength, window);
  return {
    architecture: "gemma",
    hfClass,
    vocabSize: f.int("vocab_size"),
    contextLength,
    dModel,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    rotaryDims: headDim,
    dFF: f.int("intermediate_size"),
    normEps: f.num("rms_norm_eps", 1e-6),
    ropeTheta: global.theta,
    ropeScaling: global.scaling,
    tieEmbeddings: f.bool("tie_word_embeddings", true),
    qkvBias: false,
    qkNorm: version === 3,
    activation: gemmaActivation(f, version),
    parallelResidual: false,
    bosTokenId: f.tokenId("bos_token_id"),
    eosTokenId: f.tokenId("eos_token_id"),
    gemma: {
      version,
      queryPreAttnScalar: version === 1 ? headDim : f.num("query_pre_attn_scalar", 256),
      attnSoftcap: version === 1 ? null : cap("attn_logit_softcapping", version === 2 ? 50 : null),
      finalSoftcap: version === 1
        ? null
        : cap("final_logit_softcapping", version === 2 ? 30 : null),
      sliding,
      localRope: local,
    },
  };
}

/**
 * Gemma's FFN activation. Gemma 2 and 3 read hidden_activation (gelu_pytorch_tanh by default).
 * Gemma 1's first configs say hidden_act "gelu", though the model was trained with the tanh
 * form: transformers 4.38 to 4.47 ran hidden_activation when given and the tanh form otherwise,
 * ignoring hidden_act, and so does this reader (transformers 4.48 and later take hidden_act
 * literally, the exact GELU for those configs, which the Gemma authors call a mistake).
 */
function gemmaActivation(f: Fields, version: GemmaSettings["version"]): ModelConfig["activation"] {
  if (version === 1 && !f.has("hidden_activation")) {
    gelu(f, "hidden_act", "gelu_pytorch_tanh");
    return "gelu_tanh";
  }
  return gelu(f, "hidden_activation", "gelu_pytorch_tanh");
}

/**
 * Which of Gemma 2's or 3's layers slide: layer_types (transformers 5, and Gemma 3 configs that
 * list them), else Gemma 2's every other layer from the first, or Gemma 3's all but every
 * sliding_window_pattern-th (6 by default).
 */
function slidingLayers(
  f: Fields,
  version: GemmaSettings["version"],
  nLayers: number,
): GemmaSettings["sliding"] {
  const types = f.json.layer_types;
  if (types !== undefined && types !== null) {
    const kinds = ["sliding_attention", "full_attention"];
    if (
      !Array.isArray(types) || types.length !== nLayers || !types.every((t) => kinds.includes(t))
    ) {
      f.fail(
        "layer_types",
        `must list num_hidden_layers (${nLayers}) entries of ${kinds.join(" or ")}`,
      );
    }
    return types.map((t) => t === "sliding_attention");
  }
  return { period: version === 2 ? 2 : f.int("sliding_window_pattern", 6) };
}

/**
 * Gemma's rotary: one for every layer (rope_theta, rope_scaling, or transformers 5's flat
 * rope_parameters), except Gemma 3, whose sliding layers take rope_local_base_freq (10000)
 * unscaled and the others rope_theta (1e6 by default) with rope_scaling; transformers 5 writes
 * both into rope_parameters under sliding_attention and full_attention.
 */
function gemmaRope(
  f: Fields,
  version: GemmaSettings["version"],
): { global: RopeSettings; local: Rotary | null } {
  if (version !== 3) {
    return { global: ropeSettings(f, "rope_theta", GEMMA_ROPE_TYPES), local: null };
  }
  const params = f.object("rope_parameters");
  if (params?.has("full_attention") || params?.has("sliding_attention")) {
    const kind = (name: string, thetaField: string, def: number) => {
      const p = params.object(name);
      const theta = p?.has("rope_theta") ? p.num("rope_theta") : f.num(thetaField, def);
      return scaledRope(theta, p, GEMMA_ROPE_TYPES);
    };
    const local = kind("sliding_attention", "rope_local_base_freq", 10000);
    return {
      global: kind("full_attention", "rope_theta", 1e6),
      local: { theta: local.theta, scaling: local.scaling },
    };
  }
  return {
    global: ropeSettings(f, "rope_theta", GEMMA_ROPE_TYPES, 1e6),
    local: { theta: f.num("rope_local_base_freq", 10000), scaling: null },
  };
}

function llama(f: Fields, hfClass: string): ModelConfig {
  const act = f.str("hidden_act", "silu");
  if (act !== "silu") {
    f.fail("hidden_act", `${JSON.stringify(act)} is unsupported (only silu, the SwiGLU MLP)`);
  }
  const rope = ropeSettings(f);
  f.expect("attention_bias", false, "biases on the attention projections");
  f.expect("mlp_bias", false, "biases on the MLP projections");
  if (hfClass === "Qwen2ForCausalLM" || hfClass === "Qwen3ForCausalLM") {
    f.expect("use_sliding_window", false, "sliding-window attention");
  }
  const dModel = f.int("hidden_size");
  const nHeads = f.int("num_attention_heads");
  const nKvHeads = f.int("num_key_value_heads", nHeads);
  // transformers' Llama-family attention takes head_dim when given (Qwen3: 128 for a width of
  // 1024 and 16 heads), else hidden_size / num_attention_heads.
  const headDim = f.has("head_dim") ? f.int("head_dim") : dModel / nHeads;
  if (Number.isInteger(headDim) && headDim % 2 !== 0) {
    f.fail(
      f.has("head_dim") ? "head_dim" : "num_attention_heads",
      `head dim ${headDim} is odd; rotary needs it even`,
    );
  }
  let contextLength = Math.min(f.int("max_position_embeddings"), rope.contextCap);
  // Mistral attends within a sliding window; up to the window that is full causal attention,
  // so the usable context is capped there rather than computing something else beyond it.
  if (hfClass === "MistralForCausalLM" && f.has("sliding_window")) {
    contextLength = Math.min(contextLength, f.int("sliding_window"));
  }
  return {
    architecture: "llama",
    hfClass,
    vocabSize: f.int("vocab_size"),
    contextLength,
    dModel,
    nLayers: f.int("num_hidden_layers"),
    nHeads,
    nKvHeads,
    headDim,
    rotaryDims: headDim,
    dFF: f.int("intermediate_size"),
    normEps: f.num("rms_norm_eps", 1e-6),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    tieEmbeddings: f.bool("tie_word_embeddings", false),
    qkvBias: hfClass === "Qwen2ForCausalLM",
    qkNorm: hfClass === "Qwen3ForCausalLM",
    activation: "silu",
    parallelResidual: false,
    bosTokenId: f.tokenId("bos_token_id"),
    eosTokenId: f.tokenId("eos_token_id"),
  };
}

/**
 * GPT-NeoX (Pythia): LayerNorm with biases, a fused query_key_value laid out per head, rotary
 * positions on each head's first rotary_pct share (base rotary_emb_base; transformers 5:
 * rope_parameters' rope_theta and partial_rotary_factor), the exact GELU by default, and by
 * default the parallel residual (attention and FFN both read the layer's input).
 */
function neox(f: Fields, hfClass: string): ModelConfig {
  const activation = gelu(f, "hidden_act", "gelu");
  const rope = ropeSettings(f, "rotary_emb_base");
  f.expect("attention_bias", true, "GPT-NeoX without attention biases");
  const dModel = f.int("hidden_size");
  const nHeads = f.int("num_attention_heads");
  const headDim = dModel / nHeads;
  const params = f.object("rope_parameters");
  const share = params?.has("partial_rotary_factor")
    ? params.num("partial_rotary_factor")
    : f.num("rotary_pct", f.has("partial_rotary_factor") ? f.num("partial_rotary_factor") : 0.25);
  // transformers: rotary_ndims = int(head_size * rotary_pct).
  const rotaryDims = Math.floor(headDim * share);
  if (Number.isInteger(headDim) && (share > 1 || rotaryDims < 2 || rotaryDims % 2 !== 0)) {
    f.fail(
      "rotary_pct",
      `${share} of a head of ${headDim} rotates ${rotaryDims} values; rotary needs an even ` +
        `number from 2 to the head size`,
    );
  }
  return {
    architecture: "gptneox",
    hfClass,
    vocabSize: f.int("vocab_size"),
    contextLength: Math.min(f.int("max_position_embeddings"), rope.contextCap),
    dModel,
    nLayers: f.int("num_hidden_layers"),
    nHeads,
    nKvHeads: nHeads,
    headDim,
    rotaryDims,
    dFF: f.int("intermediate_size"),
    normEps: f.num("layer_norm_eps", 1e-5),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    tieEmbeddings: f.bool("tie_word_embeddings", false),
    qkvBias: true,
    qkNorm: false,
    activation,
    parallelResidual: f.bool("use_parallel_residual", true),
    bosTokenId: f.tokenId("bos_token_id"),
    eosTokenId: f.tokenId("eos_token_id"),
  };
}

interface RopeSettings {
  theta: number;
  scaling: RopeScaling | null;
  /** The most positions the scaling computes exactly (dynamic NTK), else Infinity. */
  contextCap: number;
}

/** Every rotary scaling type read (src/model/rope.ts; dynamic as the default, capped). */
const ROPE_TYPES = ["default", "linear", "dynamic", "llama3"] as const;

/**
 * The rotary base and scaling: `rope_theta` and `rope_scaling` (transformers < 5), or the
 * `rope_parameters` object that transformers >= 5 writes in their place. Scaling types whose
 * frequencies are fixed are read (linear, llama3); dynamic NTK scaling only changes them for
 * sequences past the pretrained context, so it is read as the default with the context capped
 * there; any other type (yarn, longrope, ...) is refused, as is one not in `types`.
 */
function ropeSettings(
  f: Fields,
  thetaField = "rope_theta",
  types: readonly string[] = ROPE_TYPES,
  defaultTheta = 10000,
): RopeSettings {
  const params = f.object("rope_parameters");
  const scaling = params ?? f.object("rope_scaling");
  const theta = params?.has("rope_theta")
    ? params.num("rope_theta")
    : f.num(thetaField, defaultTheta);
  return scaledRope(theta, scaling, types);
}

/** The rotary of base `theta` scaled as `scaling` says (ropeSettings), of a type in `types`. */
function scaledRope(theta: number, scaling: Fields | null, types: readonly string[]): RopeSettings {
  const none = { theta, scaling: null, contextCap: Infinity };
  if (scaling === null) return none;
  // Older configs name the type "type".
  const typeField = scaling.has("rope_type") || !scaling.has("type") ? "rope_type" : "type";
  const type = scaling.str(typeField, "default");
  if (!types.includes(type)) {
    scaling.fail(
      typeField,
      `${JSON.stringify(type)} is unsupported (rotary scaling read: ${types.join(", ")})`,
    );
  }
  switch (type) {
    case "linear":
      return { theta, scaling: { type, factor: scaling.num("factor") }, contextCap: Infinity };
    case "dynamic": {
      const original = scaling.has("original_max_position_embeddings")
        ? scaling.int("original_max_position_embeddings")
        : Infinity;
      return { theta, scaling: null, contextCap: original };
    }
    case "llama3": {
      const lowFreqFactor = scaling.num("low_freq_factor");
      const highFreqFactor = scaling.num("high_freq_factor");
      if (!(highFreqFactor > lowFreqFactor)) {
        scaling.fail("high_freq_factor", `must exceed low_freq_factor ${lowFreqFactor}`);
      }
      return {
        theta,
        scaling: {
          type,
          factor: scaling.num("factor"),
          lowFreqFactor,
          highFreqFactor,
          originalContext: scaling.int("original_max_position_embeddings"),
        },
        contextCap: Infinity,
      };
    }
    default:
      return none;
  }
}
