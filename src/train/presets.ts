// The training presets of `deno task train`, one per model the project ships, and the model
// configuration a preset's sizes give: `facts` (models/kne-facts: 4 layers, word-level tokens, the
// template corpus), `base` (models/kne-facts-base: GPT-2, 12 layers, byte-level BPE, the free-text
// corpus) and `base-llama` (its Llama-style twin). Values are strings, as on the command line,
// which overrides any of them.

import type { ModelConfig } from "../model/config.ts";

/** The base preset (models/kne-facts-base), which its Llama-style twin varies. */
const BASE = {
  out: "models/kne-facts-base",
  /** Relative to the repository's root: 8,192 tokens (`deno task make-tokenizer`). */
  tokenizer: "data/tokenizer-base/tokenizer.json",
  /** Which corpus an epoch reads: `text` packs the free-text documents into windows. */
  corpus: "text",
  // The shipped model is this 40-pass run resumed to 50 and then to 60 passes (its card).
  epochs: "40",
  batch: "16",
  lr: "1.5e-3",
  warmup: "100",
  // Weight decay as in GPT-2-style pretraining; it favours rules shared by many facts
  // (relations across phrasings, composition) over per-sentence memorization.
  "weight-decay": "0.1",
  arch: "gpt2",
  d: "256",
  // 12 layers: the shipped model (the 8-layer attempts are in bench/RESULTS.md).
  layers: "12",
  heads: "8",
  ff: "1024",
  ctx: "128",
} as const;

export const PRESETS = {
  facts: {
    out: "models/kne-facts",
    tokenizer: "data/tokenizer/tokenizer.json",
    /** One template sentence per row. */
    corpus: "sentences",
    epochs: "60",
    batch: "32",
    lr: "3e-3",
    warmup: "200",
    "weight-decay": "0.01",
    arch: "gpt2",
    d: "128",
    layers: "4",
    heads: "4",
    ff: "512",
    ctx: "32",
  },
  base: BASE,
  // The Llama-style twin of base (issue 19): everything as base but the block, whose SwiGLU MLP
  // has three [256, 688] projections (528k weights, GPT-2's two [256, 1024] hold 524k).
  "base-llama": {
    ...BASE,
    out: "models/kne-facts-base-llama",
    arch: "llama",
    ff: "688",
    // The tokenizer of the attempts before the default model's: 4,096 tokens, the first merges
    // of base's (`deno task make-tokenizer --vocab 4096`).
    tokenizer: "data/tokenizer-base-4096/tokenizer.json",
    // The twin was trained with base's earlier 28 passes (its card has the command).
    epochs: "28",
  },
} as const;

export type PresetName = keyof typeof PRESETS;
export type Preset = (typeof PRESETS)[PresetName];

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

export interface ModelSizes {
  vocabSize: number;
  contextLength: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  dFF: number;
}

/**
 * The configuration of a model the project trains: tied embeddings, no grouped heads, and the
 * end-of-text token (when the tokenizer has one) as both BOS and EOS.
 */
export function trainedModelConfig(
  arch: Preset["arch"],
  sizes: ModelSizes,
  eot: number | null,
): ModelConfig {
  const llama = arch === "llama";
  return {
    architecture: arch,
    hfClass: llama ? "LlamaForCausalLM" : "GPT2LMHeadModel",
    vocabSize: sizes.vocabSize,
    contextLength: sizes.contextLength,
    dModel: sizes.dModel,
    nLayers: sizes.nLayers,
    nHeads: sizes.nHeads,
    nKvHeads: sizes.nHeads,
    headDim: sizes.dModel / sizes.nHeads,
    rotaryDims: sizes.dModel / sizes.nHeads,
    dFF: sizes.dFF,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    tieEmbeddings: true,
    // GPT-2's fused c_attn carries a bias (read-config.ts reads it so); the Llama twin has none.
    qkvBias: !llama,
    qkNorm: false,
    activation: llama ? "silu" : "gelu_tanh",
    parallelResidual: false,
    bosTokenId: eot,
    eosTokenId: eot,
  };
}
