// Model configs of real shapes that tests plan for without any weights.

import type { ModelConfig } from "../../src/model/config.ts";
import { parseModelConfig } from "../../src/model/read-config.ts";

/** Llama-2-7B's shape (config.json fields as Hugging Face ships them). */
export const LLAMA_7B = parseModelConfig({
  architectures: ["LlamaForCausalLM"],
  hidden_size: 4096,
  intermediate_size: 11008,
  num_attention_heads: 32,
  num_key_value_heads: 32,
  num_hidden_layers: 32,
  max_position_embeddings: 4096,
  vocab_size: 32000,
}, "7b");

/** Every architecture class the generated configs draw from. */
export const SHAPE_ARCHS = [
  "GPT2LMHeadModel",
  "LlamaForCausalLM",
  "Qwen2ForCausalLM",
  "Qwen3ForCausalLM",
  "GPTNeoXForCausalLM",
  "GPTJForCausalLM",
  "GemmaForCausalLM",
  "Gemma2ForCausalLM",
  "Gemma3ForCausalLM",
] as const;

/**
 * The config.json fields Gemma adds to the Llama-style ones of a generated shape: a head size of
 * its own (`headDim`, Gemma's 256 by default), Gemma 2's default soft-caps and sliding windows
 * (the context `ctx` within the window), and Gemma 3's layers alternating sliding and global.
 */
export function gemmaFields(arch: string, headDim: number): Record<string, unknown> {
  if (!arch.startsWith("Gemma")) return {};
  return {
    head_dim: headDim,
    ...(arch === "Gemma3ForCausalLM" ? { sliding_window_pattern: 2 } : {}),
  };
}

/** The fields a generated test config varies. */
export interface ConfigShape {
  arch: (typeof SHAPE_ARCHS)[number];
  d: number;
  heads: number;
  kv: number;
  layers: number;
  ff: number;
  ctx: number;
  vocab: number;
}

/**
 * A config of `s`'s shape, read from the config.json its family would ship; Qwen3's and Gemma's
 * heads are twice width / heads (head_dim), as Qwen3-0.6B's are; GPT-NeoX and GPT-J rotate half
 * of each head (all of it where half is odd).
 */
export function configOfShape(s: ConfigShape): ModelConfig {
  const head = s.d / s.heads, half = (head / 2) % 2 === 0;
  return parseModelConfig(
    s.arch === "GPT2LMHeadModel" || s.arch === "GPTJForCausalLM"
      ? {
        architectures: [s.arch],
        n_embd: s.d,
        n_head: s.heads,
        n_layer: s.layers,
        n_positions: s.ctx,
        n_inner: s.ff,
        vocab_size: s.vocab,
        ...(s.arch === "GPTJForCausalLM" ? { rotary_dim: half ? head / 2 : head } : {}),
      }
      : {
        architectures: [s.arch],
        hidden_size: s.d,
        num_attention_heads: s.heads,
        num_key_value_heads: s.kv,
        num_hidden_layers: s.layers,
        intermediate_size: s.ff,
        max_position_embeddings: s.ctx,
        vocab_size: s.vocab,
        ...(s.arch === "Qwen3ForCausalLM" ? { head_dim: (2 * s.d) / s.heads } : {}),
        ...gemmaFields(s.arch, (2 * s.d) / s.heads),
        // Half of each head where that is an even count, else all of it.
        ...(s.arch === "GPTNeoXForCausalLM" ? { rotary_pct: half ? 0.5 : 1 } : {}),
      },
    "generated",
  );
}

/** google/gemma-2-2b's config.json (Gemma Scope's model), the fields that matter. */
export const GEMMA2_2B_JSON = {
  architectures: ["Gemma2ForCausalLM"],
  model_type: "gemma2",
  attention_bias: false,
  attn_logit_softcapping: 50.0,
  bos_token_id: 2,
  eos_token_id: 1,
  final_logit_softcapping: 30.0,
  head_dim: 256,
  hidden_act: "gelu_pytorch_tanh",
  hidden_activation: "gelu_pytorch_tanh",
  hidden_size: 2304,
  intermediate_size: 9216,
  max_position_embeddings: 8192,
  num_attention_heads: 8,
  num_hidden_layers: 26,
  num_key_value_heads: 4,
  pad_token_id: 0,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_theta: 10000.0,
  sliding_window: 4096,
  torch_dtype: "float32",
  vocab_size: 256000,
};

/** google/gemma-3-1b-pt's config.json (Gemma3ForCausalLM, text only), the fields that matter. */
export const GEMMA3_1B_JSON = {
  architectures: ["Gemma3ForCausalLM"],
  model_type: "gemma3_text",
  attention_bias: false,
  attn_logit_softcapping: null,
  bos_token_id: 2,
  eos_token_id: 1,
  final_logit_softcapping: null,
  head_dim: 256,
  hidden_activation: "gelu_pytorch_tanh",
  hidden_size: 1152,
  intermediate_size: 6912,
  max_position_embeddings: 32768,
  num_attention_heads: 4,
  num_hidden_layers: 26,
  num_key_value_heads: 1,
  pad_token_id: 0,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: 512,
  sliding_window_pattern: 6,
  torch_dtype: "bfloat16",
  vocab_size: 262144,
};
