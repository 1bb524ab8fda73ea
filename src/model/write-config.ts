// Writes a ModelConfig as a Hugging Face config.json object (GPT2LMHeadModel or
// LlamaForCausalLM), the inverse of ./read-config.ts for the models this project trains.

import type { ModelConfig, RopeScaling } from "./config.ts";

/** The config.json fields of `c`; read back by parseModelConfig, they give `c` again. */
export function hfConfigJson(c: ModelConfig): Record<string, unknown> {
  const tokens = { bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId };
  if (c.architecture === "gpt2") {
    return {
      architectures: ["GPT2LMHeadModel"],
      model_type: "gpt2",
      vocab_size: c.vocabSize,
      n_positions: c.contextLength,
      n_ctx: c.contextLength,
      n_embd: c.dModel,
      n_layer: c.nLayers,
      n_head: c.nHeads,
      n_inner: c.dFF === 4 * c.dModel ? null : c.dFF,
      activation_function: c.activation === "gelu_exact" ? "gelu" : "gelu_new",
      layer_norm_epsilon: c.normEps,
      tie_word_embeddings: true,
      ...tokens,
    };
  }
  if (c.hfClass !== "LlamaForCausalLM") {
    throw new Error(`hfConfigJson: writing a ${c.hfClass} config is not supported`);
  }
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: c.vocabSize,
    max_position_embeddings: c.contextLength,
    hidden_size: c.dModel,
    intermediate_size: c.dFF,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    ...(c.headDim !== c.dModel / c.nHeads ? { head_dim: c.headDim } : {}),
    hidden_act: "silu",
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: ropeScalingJson(c.ropeScaling),
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: c.tieEmbeddings,
    ...tokens,
  };
}

/** config.json's rope_scaling object (transformers < 5 layout) for `s`. */
function ropeScalingJson(s: RopeScaling | null): Record<string, unknown> | null {
  if (s === null) return null;
  if (s.type === "linear") return { rope_type: "linear", factor: s.factor };
  return {
    rope_type: "llama3",
    factor: s.factor,
    low_freq_factor: s.lowFreqFactor,
    high_freq_factor: s.highFreqFactor,
    original_max_position_embeddings: s.originalContext,
  };
}
