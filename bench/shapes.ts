// The real-model shapes the benchmarks build with random weights: GPT-2 small (bench:model's,
// and bench:edit's with GPT-2 medium) and a Llama-style 1B family whose layer count can shrink
// to fit.

import type { ModelConfig } from "../src/model/config.ts";

const GPT2_BASE = {
  architecture: "gpt2",
  hfClass: "GPT2LMHeadModel",
  vocabSize: 50257,
  contextLength: 1024,
  normEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieEmbeddings: true,
  qkvBias: true,
  qkNorm: false,
  activation: "gelu_tanh",
  parallelResidual: false,
  bosTokenId: 50256,
  eosTokenId: 50256,
} as const;

export function llamaConfig(layers: number): ModelConfig {
  return {
    architecture: "llama",
    hfClass: "LlamaForCausalLM",
    vocabSize: 32000,
    contextLength: 2048,
    dModel: 2048,
    nLayers: layers,
    nHeads: 32,
    nKvHeads: 8,
    headDim: 64,
    rotaryDims: 64,
    dFF: 8192,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    tieEmbeddings: false,
    qkvBias: false,
    qkNorm: false,
    activation: "silu",
    parallelResidual: false,
    bosTokenId: 1,
    eosTokenId: 2,
  };
}

export interface Shape {
  key: string;
  label: string;
  config: ModelConfig;
  /** For a family: smaller layer counts of the same widths to fall back to. */
  family?: (layers: number) => ModelConfig;
}

/** GPT-2 small: 12 layers of width 768, 12 heads, FFN 3072, vocabulary 50257. */
export const GPT2_SMALL: ModelConfig = {
  ...GPT2_BASE,
  dModel: 768,
  nLayers: 12,
  nHeads: 12,
  nKvHeads: 12,
  headDim: 64,
  rotaryDims: 64,
  dFF: 3072,
};

export const SHAPES: Shape[] = [
  { key: "gpt2-small", label: "GPT-2 small shape", config: GPT2_SMALL },
  {
    key: "gpt2-medium",
    label: "GPT-2 medium shape",
    config: {
      ...GPT2_BASE,
      dModel: 1024,
      nLayers: 24,
      nHeads: 16,
      nKvHeads: 16,
      headDim: 64,
      rotaryDims: 64,
      dFF: 4096,
    },
  },
  {
    key: "llama-1b",
    label: "Llama-style 1B shape",
    config: llamaConfig(16),
    family: llamaConfig,
  },
];

export function describe(c: ModelConfig): string {
  return `${c.nLayers} x ${c.dModel}, ${c.nHeads} heads${
    c.nKvHeads !== c.nHeads ? ` (${c.nKvHeads} kv)` : ""
  }, ff ${c.dFF}, vocab ${c.vocabSize}`;
}
