// The architecture description every model in src/model/ is built from, normalised from a
// Hugging Face config.json (GPT-2, Llama, Mistral, Qwen2, Qwen3, GPT-NeoX, GPT-J) by
// src/model/read-config.ts.

export type Architecture = "gpt2" | "llama" | "gptneox" | "gptj";

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

export interface ModelConfig {
  architecture: Architecture;
  /** The HF class name it came from, e.g. GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM. */
  hfClass: string;
  vocabSize: number;
  /** Maximum context (n_positions / max_position_embeddings). */
  contextLength: number;
  dModel: number;
  nLayers: number;
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
  bosTokenId: number | null;
  eosTokenId: number | null;
}
