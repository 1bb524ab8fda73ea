// The architecture description every model in src/model/ is built from, normalised from a
// Hugging Face config.json (GPT-2, Llama, Mistral, Qwen2, Qwen3, GPT-NeoX, GPT-J, Gemma 1-3) by
// src/model/read-config.ts.

/** The model families the engine runs (ModelConfig.architecture). */
export type Architecture = "gpt2" | "llama" | "gptneox" | "gptj" | "gemma";

/** Rotary scaling types whose frequencies do not depend on the sequence (src/model/rope.ts). */
export type RopeScaling =
  | { type: "linear"; factor: number }
  | {
    type: "llama3";
    factor: number;
    lowFreqFactor: number;
    highFreqFactor: number;
    /** original_max_position_embeddings: the context the model was pretrained with. */
    originalContext: number;
  };

/** Rotary settings of one kind of layer: the base and how its frequencies are scaled. */
export interface Rotary {
  /** The rotary base (rope_theta; Gemma 3 sliding layers: rope_local_base_freq). */
  theta: number;
  /** How the frequencies are scaled for a longer context, or null for none. */
  scaling: RopeScaling | null;
}

/**
 * What Gemma adds to the Llama layout (src/model/gemma.ts). Every Gemma scales its embeddings by
 * sqrt(hidden size), normalises with x / rms * (1 + weight) and gates a tanh-GELU FFN.
 */
export interface GemmaSettings {
  /** 1: GemmaForCausalLM; 2: Gemma2ForCausalLM; 3: Gemma3ForCausalLM (text only). */
  version: 1 | 2 | 3;
  /**
   * Attention scores are scaled by queryPreAttnScalar^(-1/2): query_pre_attn_scalar (Gemma 2
   * and 3), the head size for Gemma 1.
   */
  queryPreAttnScalar: number;
  /** attn_logit_softcapping: scores become cap tanh(scores / cap) before the softmax; or null. */
  attnSoftcap: number | null;
  /** final_logit_softcapping: the logits become cap tanh(logits / cap); or null. */
  finalSoftcap: number | null;
  /**
   * Which layers attend within the sliding window (Gemma 2: every other one from the first;
   * Gemma 3: layer_types, or all but every sliding_window_pattern-th): the context is capped at
   * the window, where they attend as the others do, so what differs is Gemma 3's rotary
   * (`localRope`). A list of nLayers flags, or the pattern's period (layer l slides unless
   * (l + 1) % period is 0); [] where no layer slides.
   */
  sliding: readonly boolean[] | { period: number };
  /** Gemma 3's rotary of sliding layers (the others' is the config's); null for Gemma 1 and 2. */
  localRope: Rotary | null;
}

/** A model's architecture, normalised from its config.json. */
export interface ModelConfig {
  /** The layer layout the model is built with (Mistral, Qwen2 and Qwen3 run as "llama"). */
  architecture: Architecture;
  /** The HF class name it came from, e.g. GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM. */
  hfClass: string;
  /** Rows of the embedding table and columns of the logits (vocab_size). */
  vocabSize: number;
  /** Maximum context (n_positions / max_position_embeddings). */
  contextLength: number;
  /** Width of the residual stream (hidden size: n_embd / hidden_size). */
  dModel: number;
  /** Decoder layers. */
  nLayers: number;
  /** Query heads per attention layer. */
  nHeads: number;
  /** Key/value heads (grouped-query attention); equals nHeads for GPT-2. */
  nKvHeads: number;
  /** Size of one attention head: dModel / nHeads, or config.json's head_dim (Qwen3: larger). */
  headDim: number;
  /** FFN hidden width (4*dModel for GPT-2 unless n_inner is set). */
  dFF: number;
  /** Layer norm epsilon (GPT-2) or RMS norm epsilon (Llama). */
  normEps: number;
  /** Rotary base (Llama, GPT-NeoX, GPT-J); unused for GPT-2. */
  ropeTheta: number;
  /**
   * Values of each head the rotation turns (its first ones): headDim, GPT-NeoX's rotary_pct of it,
   * or GPT-J's rotary_dim.
   */
  rotaryDims: number;
  /** How the rotary frequencies are scaled for a longer context (Llama 3.x: llama3), or null. */
  ropeScaling: RopeScaling | null;
  /** Output head shares the token embedding (GPT-2 always; Llama per tie_word_embeddings). */
  tieEmbeddings: boolean;
  /** Qwen2 has biases on q/k/v projections. */
  qkvBias: boolean;
  /** Qwen3 RMS-normalises each query and key head (q_norm, k_norm) before the rotation. */
  qkNorm: boolean;
  /** The FFN's activation: GELU's tanh form (gelu_new) or exact form (gelu), or SwiGLU's SiLU. */
  activation: "gelu_tanh" | "gelu_exact" | "silu";
  /** GPT-NeoX, GPT-J: attention and FFN read the same layer input and both add to it. */
  parallelResidual: boolean;
  /** config.json's bos_token_id (the first of a list), or null where it has none. */
  bosTokenId: number | null;
  /** config.json's eos_token_id (the first of a list): generation stops at it; or null. */
  eosTokenId: number | null;
  /** Gemma's settings (architecture "gemma" only; absent for every other family). */
  gemma?: GemmaSettings;
}

/** Whether layer `l` of a Gemma attends within its sliding window (GemmaSettings.sliding). */
export function isSlidingLayer(g: GemmaSettings, l: number): boolean {
  return "period" in g.sliding ? (l + 1) % g.sliding.period !== 0 : g.sliding[l] === true;
}

/** The differing fields of two model configurations, as "field have vs want". */
export function configDiff(have: ModelConfig, want: ModelConfig): string[] {
  const h = have as unknown as Record<string, unknown>;
  const w = want as unknown as Record<string, unknown>;
  return Object.keys(w).filter((k) => JSON.stringify(w[k]) !== JSON.stringify(h[k]))
    .map((k) => `${k} ${JSON.stringify(h[k])} vs ${JSON.stringify(w[k])}`);
}
