// GPT-2 and GPT-J configs: the n_embd / n_head / n_layer field names they share, and what each
// adds (GPT-J: the parallel residual and rotary positions).

import type { ModelConfig } from "../config.ts";
import type { Fields } from "./fields.ts";
import { gelu } from "./gelu.ts";

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

export function gpt2(f: Fields, hfClass: string): ModelConfig {
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
export function gptj(f: Fields, hfClass: string): ModelConfig {
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
