// ModelConfig → config.json → ModelConfig: what the trainer writes reads back as the same model,
// for both families over random shapes, and the GPT-2 and Llama fixtures' configs survive it.

import assert from "node:assert/strict";
import fc from "fast-check";
import { parseModelConfig, readModelConfig } from "../../src/model/read-config.ts";
import { hfConfigJson } from "../../src/model/write-config.ts";
import type { ModelConfig } from "../../src/model/config.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

const roundTrip = (c: ModelConfig) => parseModelConfig(hfConfigJson(c), "written");

Deno.test("hfConfigJson round-trips random GPT-2 and Llama configs", () => {
  const config = fc.record({
    llama: fc.boolean(),
    vocabSize: fc.integer({ min: 8, max: 70000 }),
    contextLength: fc.integer({ min: 1, max: 8192 }),
    headDim: fc.integer({ min: 1, max: 64 }).map((h) => 2 * h),
    nKvHeads: fc.integer({ min: 1, max: 8 }),
    group: fc.integer({ min: 1, max: 4 }),
    nLayers: fc.integer({ min: 1, max: 48 }),
    dFF: fc.integer({ min: 1, max: 20000 }),
    normEps: fc.constantFrom(1e-5, 1e-6),
    ropeTheta: fc.constantFrom(10000, 500000),
    ropeScaling: fc.constantFrom<ModelConfig["ropeScaling"][]>(
      null,
      { type: "linear", factor: 2 },
      {
        type: "llama3",
        factor: 32,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalContext: 8192,
      },
    ),
    tie: fc.boolean(),
    wideHeads: fc.boolean(),
    exactGelu: fc.boolean(),
    eos: fc.option(fc.integer({ min: 0, max: 7 })),
  }).map((r): ModelConfig => {
    // Llama family: a head_dim other than the width / heads (twice it, as Qwen3-0.6B's).
    const nHeads = r.nKvHeads * r.group;
    const dModel = (nHeads * r.headDim) / (r.llama && r.wideHeads ? 2 : 1);
    return {
      architecture: r.llama ? "llama" : "gpt2",
      hfClass: r.llama ? "LlamaForCausalLM" : "GPT2LMHeadModel",
      vocabSize: r.vocabSize,
      contextLength: r.contextLength,
      dModel,
      nLayers: r.nLayers,
      nHeads,
      nKvHeads: r.llama ? r.nKvHeads : nHeads,
      headDim: r.headDim,
      rotaryDims: r.headDim,
      dFF: r.dFF,
      normEps: r.normEps,
      ropeTheta: r.llama ? r.ropeTheta : 10000,
      ropeScaling: r.llama ? r.ropeScaling : null,
      tieEmbeddings: r.llama ? r.tie : true,
      qkvBias: !r.llama,
      qkNorm: false,
      activation: r.llama ? "silu" : r.exactGelu ? "gelu_exact" : "gelu_tanh",
      parallelResidual: false,
      bosTokenId: r.eos,
      eosTokenId: r.eos,
    };
  });
  fc.assert(fc.property(config, (c) => assert.deepEqual(roundTrip(c), c)));
});

Deno.test("the fixtures' configs survive hfConfigJson", async () => {
  for (const name of ["tiny-gpt2", "tiny-llama", "tiny-llama3"]) {
    const c = await readModelConfig(`${FIXTURES}${name}`);
    assert.deepEqual(roundTrip(c), c, name);
  }
});

Deno.test("hfConfigJson refuses a family it cannot write", async () => {
  const c = await readModelConfig(`${FIXTURES}tiny-llama`);
  assert.throws(() => hfConfigJson({ ...c, hfClass: "Qwen2ForCausalLM" }), /Qwen2ForCausalLM/);
  // The trainer writes GPT-2 and Llama; a read GPT-J folder keeps its own config.json.
  const gptj = await readModelConfig(`${FIXTURES}tiny-gptj`);
  assert.throws(() => hfConfigJson(gptj), /writing a GPTJForCausalLM config is not supported/);
  for (const name of ["tiny-gemma", "tiny-gemma2", "tiny-gemma3"]) {
    const c = await readModelConfig(`${FIXTURES}${name}`);
    assert.throws(() => hfConfigJson(c), new RegExp(`writing a ${c.hfClass} config`), name);
  }
});
