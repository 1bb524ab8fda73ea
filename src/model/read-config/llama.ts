// Llama-family configs (Llama, Mistral, Qwen2, Qwen3): the SwiGLU layout and its variants' biases,
// head sizes and sliding windows.

import type { ModelConfig } from "../config.ts";
import type { Fields } from "./fields.ts";
import { ropeSettings } from "./rope.ts";

export function llama(f: Fields, hfClass: string): ModelConfig {
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
