// GPT-NeoX (Pythia) configs: partial rotary, the fused per-head query_key_value, the parallel
// residual.

import type { ModelConfig } from "../config.ts";
import type { Fields } from "./fields.ts";
import { gelu } from "./gelu.ts";
import { ropeSettings } from "./rope.ts";

/**
 * GPT-NeoX (Pythia): LayerNorm with biases, a fused query_key_value laid out per head, rotary
 * positions on each head's first rotary_pct share (base rotary_emb_base; transformers 5:
 * rope_parameters' rope_theta and partial_rotary_factor), the exact GELU by default, and by
 * default the parallel residual (attention and FFN both read the layer's input).
 */
export function neox(f: Fields, hfClass: string): ModelConfig {
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
