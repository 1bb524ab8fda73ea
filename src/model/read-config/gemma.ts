// Gemma 1, 2 and 3 (text) configs: sizes, soft-capping, sliding layers and the two rotary bases.

import type { GemmaSettings, ModelConfig, Rotary } from "../config.ts";
import type { Fields } from "./fields.ts";
import { gelu } from "./gelu.ts";
import { type RopeSettings, ropeSettings, scaledRope } from "./rope.ts";

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
export function gemma(f: Fields, hfClass: string, version: GemmaSettings["version"]): ModelConfig {
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
