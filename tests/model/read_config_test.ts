// config.json → ModelConfig: the fixtures, the defaults of each family, and every error.

import assert from "node:assert/strict";
import fc from "fast-check";
import { ConfigError, parseModelConfig, readModelConfig } from "../../src/model/read-config.ts";
import { type GemmaSettings, isSlidingLayer, type ModelConfig } from "../../src/model/config.ts";
import { GEMMA2_2B_JSON, GEMMA3_1B_JSON } from "../helpers/configs.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

/**
 * What every tiny fixture's config says unless its own fields do (tests/oracle/make_fixtures.py).
 */
const TINY = {
  vocabSize: 96,
  dModel: 32,
  normEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  qkNorm: false,
} as const;

/** Asserts that the fixture `name`'s config.json reads as TINY with `fields` over it. */
async function assertFixtureConfig(
  name: string,
  fields: Omit<ModelConfig, keyof typeof TINY> & Partial<ModelConfig>,
): Promise<void> {
  assert.deepEqual(await readModelConfig(`${FIXTURES}${name}`), { ...TINY, ...fields }, name);
}

Deno.test("tiny-gpt2 fixture config", async () => {
  await assertFixtureConfig("tiny-gpt2", {
    architecture: "gpt2",
    hfClass: "GPT2LMHeadModel",
    contextLength: 32,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 4,
    headDim: 8,
    rotaryDims: 8,
    dFF: 128,
    tieEmbeddings: true,
    qkvBias: true,
    activation: "gelu_tanh",
    parallelResidual: false,
    bosTokenId: 0,
    eosTokenId: 0,
  });
});

Deno.test("tiny-llama fixture config", async () => {
  await assertFixtureConfig("tiny-llama", {
    architecture: "llama",
    hfClass: "LlamaForCausalLM",
    contextLength: 64,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 8,
    rotaryDims: 8,
    dFF: 48,
    tieEmbeddings: false,
    qkvBias: false,
    activation: "silu",
    parallelResidual: false,
    bosTokenId: 1,
    eosTokenId: 2,
  });
});

const gpt2 = () => ({
  architectures: ["GPT2LMHeadModel"],
  n_embd: 64,
  n_layer: 3,
  n_head: 8,
  n_positions: 128,
  vocab_size: 500,
  activation_function: "gelu_new",
  layer_norm_epsilon: 1e-5,
  n_inner: null,
});

const llama = (arch = "LlamaForCausalLM") => ({
  architectures: [arch],
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  intermediate_size: 96,
  rms_norm_eps: 1e-6,
  max_position_embeddings: 256,
  vocab_size: 500,
  hidden_act: "silu",
});

const parse = (json: unknown) => parseModelConfig(json, "mem/config.json");

/** A copy of the config `json` without the fields `keys` (left to their defaults). */
function without(json: object, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(json).filter(([k]) => !keys.includes(k)));
}

Deno.test("GPT-2 defaults and variants", () => {
  assert.equal(parse(gpt2()).dFF, 256, "n_inner null → 4*n_embd");
  assert.equal(parse({ ...gpt2(), n_inner: 100 }).dFF, 100);
  const noAct = without(gpt2(), ["activation_function", "layer_norm_epsilon"]);
  assert.equal(parse(noAct).normEps, 1e-5);
  assert.equal(parse({ ...gpt2(), activation_function: "gelu_pytorch_tanh" }).architecture, "gpt2");
  const old = { ...without(gpt2(), ["architectures"]), model_type: "gpt2" };
  assert.equal(parse(old).hfClass, "GPT2LMHeadModel", "model_type fallback");
  assert.equal(parse({ ...gpt2(), eos_token_id: [7, 9] }).eosTokenId, 7, "first of a list");
  assert.equal(parse(gpt2()).bosTokenId, null);
});

Deno.test("GPT-NeoX: defaults, the rotary share, GELU forms, the residual", () => {
  const neox = {
    architectures: ["GPTNeoXForCausalLM"],
    hidden_size: 64,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    intermediate_size: 256,
    max_position_embeddings: 128,
    vocab_size: 500,
  };
  const c = parse(neox);
  assert.deepEqual(
    [c.architecture, c.headDim, c.rotaryDims, c.ropeTheta, c.activation, c.parallelResidual],
    ["gptneox", 16, 4, 10000, "gelu_exact", true],
    "Pythia's defaults: a quarter of each head rotated, base 10000, exact GELU, parallel",
  );
  assert.deepEqual([c.qkvBias, c.tieEmbeddings, c.nKvHeads, c.normEps], [true, false, 4, 1e-5]);
  const other = parse({
    ...neox,
    rotary_pct: 1,
    rotary_emb_base: 5000,
    hidden_act: "gelu_new",
    use_parallel_residual: false,
  });
  assert.deepEqual(
    [other.rotaryDims, other.ropeTheta, other.activation, other.parallelResidual],
    [16, 5000, "gelu_tanh", false],
  );
  // transformers 5 writes the rotary settings in rope_parameters.
  const v5 = parse({
    ...neox,
    rope_parameters: { rope_type: "default", rope_theta: 1e4, partial_rotary_factor: 0.5 },
  });
  assert.deepEqual([v5.rotaryDims, v5.ropeTheta], [8, 1e4]);
  assert.equal(
    parse({ ...neox, model_type: "gpt_neox", architectures: null }).hfClass,
    "GPTNeoXForCausalLM",
  );
  expectConfigError({ ...neox, rotary_pct: 0.1 }, "rotary_pct", "rotates 1 values");
  expectConfigError({ ...neox, rotary_pct: 2 }, "rotary_pct", "from 2 to the head size");
  expectConfigError({ ...neox, hidden_act: "relu" }, "hidden_act", "only GELU");
  expectConfigError({ ...neox, attention_bias: false }, "attention_bias", "unsupported");
});

Deno.test("tiny-gptj fixture config", async () => {
  await assertFixtureConfig("tiny-gptj", {
    architecture: "gptj",
    hfClass: "GPTJForCausalLM",
    contextLength: 64,
    nLayers: 3,
    nHeads: 2,
    nKvHeads: 2,
    headDim: 16,
    rotaryDims: 10,
    dFF: 128,
    tieEmbeddings: false,
    qkvBias: false,
    activation: "gelu_tanh",
    parallelResidual: true,
    bosTokenId: 0,
    eosTokenId: 0,
  });
});

Deno.test("GPT-J: GPT-J-6B's config, defaults, rotary_dim, and what is refused", () => {
  // EleutherAI/gpt-j-6b's config.json, its fields that matter.
  const gptj = {
    architectures: ["GPTJForCausalLM"],
    model_type: "gptj",
    activation_function: "gelu_new",
    n_embd: 4096,
    n_head: 16,
    n_inner: null,
    n_layer: 28,
    n_positions: 2048,
    rotary: true,
    rotary_dim: 64,
    layer_norm_epsilon: 1e-5,
    tie_word_embeddings: false,
    vocab_size: 50400,
    bos_token_id: 50256,
    eos_token_id: 50256,
  };
  const c = parse(gptj);
  assert.deepEqual(
    [c.architecture, c.headDim, c.rotaryDims, c.dFF, c.contextLength, c.activation],
    ["gptj", 256, 64, 16384, 2048, "gelu_tanh"],
  );
  assert.deepEqual(
    [c.parallelResidual, c.tieEmbeddings, c.qkvBias, c.ropeTheta, c.ropeScaling],
    [true, false, false, 10000, null],
  );
  // transformers' GPTJConfig defaults: rotary_dim 64, gelu_new, an untied head.
  const bare = without(gptj, [
    "rotary_dim",
    "activation_function",
    "tie_word_embeddings",
    "n_inner",
  ]);
  assert.deepEqual(parse(bare), c);
  assert.equal(parse({ ...gptj, activation_function: "gelu" }).activation, "gelu_exact");
  assert.equal(parse({ ...gptj, tie_word_embeddings: true }).tieEmbeddings, true);
  assert.equal(parse({ ...gptj, architectures: null }).hfClass, "GPTJForCausalLM");
  // rotary_dim null: frequencies over the whole width, a whole head only with one head.
  assert.equal(parse({ ...gptj, n_head: 1, rotary_dim: null }).rotaryDims, 4096);
  expectConfigError({ ...gptj, rotary_dim: null }, "rotary_dim", "only when n_head is 1");
  expectConfigError({ ...gptj, rotary_dim: 258 }, "rotary_dim", "from 2 to the head size");
  expectConfigError({ ...gptj, rotary_dim: 63 }, "rotary_dim", "even number");
  expectConfigError({ ...gptj, n_head: 5 }, "n_head", "do not divide the width");
  expectConfigError({ ...gptj, activation_function: "relu" }, "activation_function", "only GELU");
});

/**
 * A tiny Gemma fixture's config (the fields they share, tests/oracle/make_fixtures.py), with
 * `fields` and its Gemma settings, which have no soft-caps and no local rotary unless they say.
 */
function tinyGemma(
  fields:
    & Pick<ModelConfig, "hfClass" | "contextLength" | "nLayers" | "nKvHeads">
    & Partial<ModelConfig>,
  gemma: Pick<GemmaSettings, "version" | "queryPreAttnScalar" | "sliding"> & Partial<GemmaSettings>,
) {
  return {
    architecture: "gemma",
    nHeads: 4,
    headDim: 16,
    rotaryDims: 16,
    dFF: 64,
    normEps: 1e-6,
    tieEmbeddings: true,
    qkvBias: false,
    parallelResidual: false,
    activation: "gelu_tanh",
    bosTokenId: 2,
    eosTokenId: 1,
    ...fields,
    gemma: { attnSoftcap: null, finalSoftcap: null, localRope: null, ...gemma },
  } as const;
}

Deno.test("tiny-gemma, tiny-gemma2 and tiny-gemma3 fixture configs", async () => {
  await assertFixtureConfig(
    "tiny-gemma",
    // hidden_act "gelu", as gemma-2b says: Gemma's tanh GELU all the same.
    tinyGemma(
      { hfClass: "GemmaForCausalLM", contextLength: 64, nLayers: 2, nKvHeads: 1 },
      { version: 1, queryPreAttnScalar: 16, sliding: [] },
    ),
  );
  await assertFixtureConfig(
    "tiny-gemma2",
    tinyGemma(
      { hfClass: "Gemma2ForCausalLM", contextLength: 32, nLayers: 3, nKvHeads: 2 },
      {
        version: 2,
        queryPreAttnScalar: 24,
        attnSoftcap: 2,
        finalSoftcap: 1.5,
        sliding: { period: 2 },
      },
    ),
  );
  await assertFixtureConfig(
    "tiny-gemma3",
    tinyGemma(
      {
        hfClass: "Gemma3ForCausalLM",
        contextLength: 32,
        nLayers: 3,
        nKvHeads: 2,
        ropeTheta: 1e6,
        ropeScaling: { type: "linear", factor: 8 },
        qkNorm: true,
      },
      {
        version: 3,
        queryPreAttnScalar: 16,
        sliding: { period: 3 },
        localRope: { theta: 10000, scaling: null },
      },
    ),
  );
});

Deno.test("Gemma 2: Gemma-2-2B's config, its defaults, and transformers 5's layout", () => {
  const c = parse(GEMMA2_2B_JSON);
  assert.deepEqual(
    [c.architecture, c.headDim, c.nKvHeads, c.dFF, c.activation, c.tieEmbeddings],
    ["gemma", 256, 4, 9216, "gelu_tanh", true],
  );
  assert.equal(c.contextLength, 4096, "capped at the sliding window, within 8192 positions");
  assert.deepEqual(c.gemma, {
    version: 2,
    queryPreAttnScalar: 256,
    attnSoftcap: 50,
    finalSoftcap: 30,
    sliding: { period: 2 },
    localRope: null,
  });
  assert.deepEqual(
    Array.from({ length: 4 }, (_, l) => isSlidingLayer(c.gemma!, l)),
    [true, false, true, false],
    "layer 0 slides, layer 1 does not",
  );
  // transformers' Gemma2Config defaults: caps 50 and 30, a scalar of 256, a window of 4096;
  // null caps none.
  const bare = without(GEMMA2_2B_JSON, [
    "attn_logit_softcapping",
    "final_logit_softcapping",
    "query_pre_attn_scalar",
    "sliding_window",
    "hidden_activation",
    "head_dim",
  ]);
  assert.deepEqual(parse(bare), c);
  const uncapped = parse({
    ...GEMMA2_2B_JSON,
    attn_logit_softcapping: null,
    final_logit_softcapping: null,
  });
  assert.deepEqual([uncapped.gemma!.attnSoftcap, uncapped.gemma!.finalSoftcap], [null, null]);
  // No window: no cap on the context.
  assert.equal(parse({ ...GEMMA2_2B_JSON, sliding_window: null }).contextLength, 8192);
  // transformers 5 lists the layer types and writes the rotary into rope_parameters.
  const types = Array.from(
    { length: 26 },
    (_, l) => l % 2 ? "full_attention" : "sliding_attention",
  );
  const v5 = parse({
    ...GEMMA2_2B_JSON,
    rope_theta: undefined,
    layer_types: types,
    rope_parameters: { rope_type: "default", rope_theta: 10000 },
  });
  assert.deepEqual(v5.gemma!.sliding, types.map((t) => t === "sliding_attention"));
  assert.deepEqual({ ...v5, gemma: { ...v5.gemma, sliding: { period: 2 } } }, c);
  assert.equal(parse({ ...GEMMA2_2B_JSON, architectures: null }).hfClass, "Gemma2ForCausalLM");
  expectConfigError({ ...GEMMA2_2B_JSON, layer_types: types.slice(1) }, "layer_types", "26");
  expectConfigError(
    { ...GEMMA2_2B_JSON, layer_types: types.map(() => "chunked_attention") },
    "layer_types",
    "sliding_attention or full_attention",
  );
  expectConfigError({ ...GEMMA2_2B_JSON, attention_bias: true }, "attention_bias", "biases");
  expectConfigError({ ...GEMMA2_2B_JSON, hidden_activation: "silu" }, "hidden_activation", "GELU");
  expectConfigError(
    { ...GEMMA2_2B_JSON, rope_scaling: { rope_type: "llama3", factor: 8 } },
    "rope_scaling.rope_type",
    "default, linear",
  );
  expectConfigError({ ...GEMMA2_2B_JSON, attn_logit_softcapping: 0 }, "attn_logit_softcapping", "");
});

Deno.test("Gemma 3: Gemma-3-1B's config, the local rotary, and what is refused", () => {
  const c = parse(GEMMA3_1B_JSON);
  assert.deepEqual(
    [c.hfClass, c.headDim, c.nKvHeads, c.qkNorm, c.ropeTheta, c.ropeScaling],
    ["Gemma3ForCausalLM", 256, 1, true, 1e6, null],
  );
  assert.equal(c.contextLength, 512, "capped at the sliding window of 512");
  assert.deepEqual(c.gemma, {
    version: 3,
    queryPreAttnScalar: 256,
    attnSoftcap: null,
    finalSoftcap: null,
    sliding: { period: 6 },
    localRope: { theta: 10000, scaling: null },
  });
  assert.deepEqual(
    Array.from({ length: 12 }, (_, l) => isSlidingLayer(c.gemma!, l) ? "s" : "F").join(""),
    "sssssFsssssF",
  );
  // transformers' Gemma3TextConfig defaults: no caps, 5 sliding layers of 6, bases 1e6 and 1e4.
  const bare = without(GEMMA3_1B_JSON, [
    "attn_logit_softcapping",
    "final_logit_softcapping",
    "sliding_window_pattern",
    "rope_local_base_freq",
    "rope_theta",
    "rope_scaling",
  ]);
  assert.deepEqual(parse(bare), c);
  assert.equal(parse({ ...GEMMA3_1B_JSON, architectures: null }).hfClass, "Gemma3ForCausalLM");
  // Gemma 3 4B's text layers scale the global rotary linearly.
  const linear = parse({ ...GEMMA3_1B_JSON, rope_scaling: { rope_type: "linear", factor: 8 } });
  assert.deepEqual(linear.ropeScaling, { type: "linear", factor: 8 });
  assert.deepEqual(linear.gemma!.localRope, { theta: 10000, scaling: null });
  // transformers 5: layer_types, and rope_parameters by layer type.
  const v5json = {
    ...without(
      GEMMA3_1B_JSON,
      ["rope_local_base_freq", "rope_theta", "rope_scaling", "sliding_window_pattern"],
    ),
    layer_types: Array.from(
      { length: 26 },
      (_, l) => (l + 1) % 6 ? "sliding_attention" : "full_attention",
    ),
    rope_parameters: {
      full_attention: { rope_type: "linear", factor: 8, rope_theta: 1e6 },
      sliding_attention: { rope_type: "default", rope_theta: 10000 },
    },
  };
  const v5 = parse(v5json);
  assert.deepEqual(
    { ...v5, gemma: { ...v5.gemma, sliding: { period: 6 } } },
    linear,
  );
  expectConfigError(
    {
      ...v5json,
      rope_parameters: { full_attention: { rope_type: "yarn", factor: 8, rope_theta: 1e6 } },
    },
    "rope_parameters.full_attention.rope_type",
    "default, linear",
  );
  expectConfigError(
    { ...GEMMA3_1B_JSON, rope_scaling: { rope_type: "dynamic", factor: 2 } },
    "rope_scaling.rope_type",
    "unsupported",
  );
  expectConfigError(
    { ...GEMMA3_1B_JSON, use_bidirectional_attention: true },
    "use_bidirectional_attention",
    "EmbeddingGemma",
  );
  // The multimodal model is refused by name, with or without its class in the file.
  for (
    const json of [{ architectures: ["Gemma3ForConditionalGeneration"] }, { model_type: "gemma3" }]
  ) {
    expectConfigError(
      { text_config: GEMMA3_1B_JSON, ...json },
      Object.hasOwn(json, "model_type") ? "model_type" : "architectures",
      "Gemma3ForConditionalGeneration",
    );
  }
});

Deno.test("Gemma 1: gemma-2b's hidden_act gelu is the tanh GELU; hidden_activation decides", () => {
  const gemma = {
    architectures: ["GemmaForCausalLM"],
    hidden_size: 2048,
    intermediate_size: 16384,
    num_attention_heads: 8,
    num_key_value_heads: 1,
    num_hidden_layers: 18,
    head_dim: 256,
    hidden_act: "gelu",
    max_position_embeddings: 8192,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    vocab_size: 256000,
  };
  const c = parse(gemma);
  assert.deepEqual(
    [c.activation, c.contextLength, c.headDim, c.gemma!.queryPreAttnScalar, c.gemma!.sliding],
    ["gelu_tanh", 8192, 256, 256, []],
  );
  assert.equal(parse({ ...gemma, hidden_activation: "gelu_pytorch_tanh" }).activation, "gelu_tanh");
  assert.equal(parse({ ...gemma, hidden_activation: "gelu" }).activation, "gelu_exact");
  // Gemma 1 has no soft-capping nor sliding window, whatever the file says.
  const extra = parse({ ...gemma, attn_logit_softcapping: 50, sliding_window: 16 });
  assert.deepEqual([extra.gemma!.attnSoftcap, extra.contextLength], [null, 8192]);
  expectConfigError({ ...gemma, hidden_act: "relu" }, "hidden_act", "only GELU");
  expectConfigError({ ...gemma, head_dim: 255 }, "head_dim", "odd");
});

Deno.test("GPT-2's exact GELU (activation_function gelu) is read as such", () => {
  assert.equal(parse({ ...gpt2(), activation_function: "gelu" }).activation, "gelu_exact");
  assert.equal(parse({ ...gpt2(), activation_function: "gelu_fast" }).activation, "gelu_tanh");
});

Deno.test("Llama / Mistral / Qwen2 defaults and variants", () => {
  const c = parse(without(llama(), ["num_key_value_heads"]));
  assert.equal(c.nKvHeads, 8, "kv heads default to heads");
  assert.equal(c.ropeTheta, 10000);
  assert.equal(c.tieEmbeddings, false);
  assert.equal(c.qkvBias, false);
  assert.equal(parse({ ...llama(), rope_theta: 500000 }).ropeTheta, 500000);
  assert.equal(parse({ ...llama(), tie_word_embeddings: true }).tieEmbeddings, true);
  assert.equal(parse({ ...llama(), head_dim: 8, rope_scaling: null }).dModel, 64);
  assert.equal(
    parse({ ...llama(), rope_parameters: { rope_type: "default", rope_theta: 1e6 } }).ropeTheta,
    1e6,
  );
  // Llama 3.x's scaling, in both layouts; older configs name the type "type".
  const l3 = {
    type: "llama3",
    factor: 32,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalContext: 8192,
  };
  assert.deepEqual(parse({ ...llama(), rope_scaling: LLAMA3_SCALING }).ropeScaling, l3);
  const v5 = parse({ ...llama(), rope_parameters: { ...LLAMA3_SCALING, rope_theta: 5e5 } });
  assert.deepEqual([v5.ropeScaling, v5.ropeTheta], [l3, 5e5]);
  assert.deepEqual(parse({ ...llama(), rope_scaling: { type: "linear", factor: 2 } }).ropeScaling, {
    type: "linear",
    factor: 2,
  });
  assert.equal(parse({ ...llama(), rope_scaling: { rope_type: "default" } }).ropeScaling, null);
  // Dynamic NTK scaling equals the default up to the pretrained context, where positions stop.
  const dyn = parse({
    ...llama(),
    rope_scaling: { type: "dynamic", factor: 2, original_max_position_embeddings: 100 },
  });
  assert.deepEqual([dyn.ropeScaling, dyn.contextLength], [null, 100]);
  assert.equal(
    parse({ ...llama(), rope_scaling: { type: "dynamic", factor: 2 } }).contextLength,
    256,
  );
  // head_dim need not be the width / heads; Qwen3 normalises q and k heads and has no biases.
  const wide = parse({ ...llama(), head_dim: 16 });
  assert.deepEqual([wide.dModel, wide.headDim, wide.qkNorm], [64, 16, false]);
  assert.equal(parse({ ...llama(), head_dim: 8 }).headDim, 8);
  const seven = { ...llama(), num_attention_heads: 7, num_key_value_heads: 7, head_dim: 10 };
  assert.equal(parse(seven).headDim, 10, "7 heads of 10 beside a width of 64");
  const q3 = parse({ ...llama("Qwen3ForCausalLM"), head_dim: 16, use_sliding_window: false });
  assert.deepEqual([q3.hfClass, q3.qkNorm, q3.qkvBias, q3.headDim], [
    "Qwen3ForCausalLM",
    true,
    false,
    16,
  ]);
  const q = parse({ ...llama("Qwen2ForCausalLM"), use_sliding_window: false, sliding_window: 8 });
  assert.equal(q.qkvBias, true);
  assert.equal(q.contextLength, 256, "Qwen2 without sliding window keeps the full context");
  const m = parse({ ...llama("MistralForCausalLM"), sliding_window: 100 });
  assert.equal(m.hfClass, "MistralForCausalLM");
  assert.equal(m.contextLength, 100, "Mistral's usable context is capped at its window");
  assert.equal(parse({ ...llama("MistralForCausalLM"), sliding_window: null }).contextLength, 256);
});

const LLAMA3_SCALING = {
  factor: 32.0,
  high_freq_factor: 4.0,
  low_freq_factor: 1.0,
  original_max_position_embeddings: 8192,
  rope_type: "llama3",
};

function expectConfigError(json: unknown, field: string | null, fragment: string) {
  assert.throws(() => parse(json), (e: Error) => {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${e}`);
    assert.ok(e.message.includes("mem/config.json"), e.message);
    if (field !== null) {
      assert.equal((e as ConfigError).field, field, e.message);
      assert.ok(e.message.includes(`[${field}]`), e.message);
    }
    assert.ok(e.message.includes(fragment), `message "${e.message}" lacks "${fragment}"`);
    return true;
  });
}

Deno.test("config errors name the file and the field", () => {
  expectConfigError([], null, "not a JSON object");
  expectConfigError(null, null, "not a JSON object");
  expectConfigError({ ...gpt2(), architectures: ["BertModel"] }, "architectures", "unknown");
  expectConfigError({ ...gpt2(), architectures: [] }, "architectures", "non-empty");
  expectConfigError({ n_embd: 4, model_type: "bert" }, "architectures", "model_type");
  expectConfigError(without(gpt2(), ["n_embd"]), "n_embd", "missing");
  expectConfigError({ ...gpt2(), n_head: 0 }, "n_head", "positive integer");
  expectConfigError({ ...gpt2(), n_head: "8" }, "n_head", "positive integer");
  expectConfigError({ ...gpt2(), n_layer: 2.5 }, "n_layer", "positive integer");
  expectConfigError({ ...gpt2(), n_head: 6 }, "n_head", "do not divide");
  expectConfigError({ ...gpt2(), activation_function: "relu" }, "activation_function", "GELU");
  expectConfigError({ ...gpt2(), layer_norm_epsilon: -1 }, "layer_norm_epsilon", "positive");
  expectConfigError({ ...gpt2(), scale_attn_weights: false }, "scale_attn_weights", "unsupported");
  expectConfigError(
    { ...gpt2(), scale_attn_by_inverse_layer_idx: true },
    "scale_attn_by_inverse_layer_idx",
    "unsupported",
  );
  expectConfigError({ ...gpt2(), bos_token_id: 500 }, "bos_token_id", "outside the vocabulary");
  expectConfigError({ ...gpt2(), eos_token_id: -1 }, "eos_token_id", "token id");
  expectConfigError({ ...gpt2(), tie_word_embeddings: "yes" }, "tie_word_embeddings", "true or");

  expectConfigError({ ...llama(), hidden_act: "gelu" }, "hidden_act", "unsupported");
  expectConfigError(
    { ...llama(), rope_scaling: { type: "yarn", factor: 4 } },
    "rope_scaling.type",
    "unsupported",
  );
  expectConfigError(
    { ...llama(), rope_parameters: { rope_type: "longrope" } },
    "rope_parameters.rope_type",
    "unsupported",
  );
  expectConfigError({ ...llama(), rope_scaling: [] }, "rope_scaling", "must be an object");
  expectConfigError(
    { ...llama(), rope_scaling: { rope_type: "linear", factor: 0 } },
    "rope_scaling.factor",
    "positive",
  );
  expectConfigError(
    { ...llama(), rope_scaling: { ...LLAMA3_SCALING, original_max_position_embeddings: null } },
    "rope_scaling.original_max_position_embeddings",
    "missing",
  );
  expectConfigError(
    { ...llama(), rope_scaling: { ...LLAMA3_SCALING, high_freq_factor: 1 } },
    "rope_scaling.high_freq_factor",
    "must exceed low_freq_factor",
  );
  expectConfigError({ ...llama(), num_key_value_heads: 3 }, "num_key_value_heads", "do not divide");
  expectConfigError({ ...llama(), num_attention_heads: 7 }, "num_attention_heads", "do not divide");
  expectConfigError(
    { ...llama(), hidden_size: 48, num_attention_heads: 16 },
    "num_attention_heads",
    "odd",
  );
  expectConfigError({ ...llama(), head_dim: 7 }, "head_dim", "odd");
  expectConfigError({ ...llama(), head_dim: 0 }, "head_dim", "positive integer");
  expectConfigError(
    { ...llama("Qwen3ForCausalLM"), use_sliding_window: true },
    "use_sliding_window",
    "unsupported",
  );
  expectConfigError({ ...llama(), attention_bias: true }, "attention_bias", "unsupported");
  expectConfigError({ ...llama(), mlp_bias: true }, "mlp_bias", "unsupported");
  expectConfigError(
    { ...llama("Qwen2ForCausalLM"), use_sliding_window: true },
    "use_sliding_window",
    "unsupported",
  );
  expectConfigError(
    without(llama(), ["max_position_embeddings"]),
    "max_position_embeddings",
    "missing",
  );
  expectConfigError({ ...llama(), vocab_size: 0 }, "vocab_size", "positive integer");
});

Deno.test("readModelConfig errors: missing file, invalid JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kne-cfg-" });
  try {
    await assert.rejects(readModelConfig(dir), (e: Error) => {
      assert.ok(e instanceof ConfigError && e.message.includes(`${dir}/config.json`), e.message);
      return true;
    });
    Deno.writeTextFileSync(`${dir}/config.json`, "{ nope");
    await assert.rejects(readModelConfig(dir), (e: Error) => {
      assert.ok(e instanceof ConfigError && e.message.includes("not valid JSON"), e.message);
      return true;
    });
    // V8 quotes the text's start, line break included: the message stays one line.
    Deno.writeTextFileSync(`${dir}/config.json`, "garbage{\n");
    await assert.rejects(readModelConfig(dir), (e: Error) => {
      assert.ok(e.message.includes("not valid JSON") && !e.message.includes("\n"), e.message);
      return true;
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("property: valid Llama-family configs keep their numbers; a corrupted field is a ConfigError", () => {
  const archArb = fc.constantFrom("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");
  const cfgArb = fc.record({
    arch: archArb,
    kv: fc.integer({ min: 1, max: 4 }),
    rep: fc.integer({ min: 1, max: 4 }),
    halfHead: fc.integer({ min: 1, max: 16 }),
    layers: fc.integer({ min: 1, max: 40 }),
    ff: fc.integer({ min: 1, max: 5000 }),
    vocab: fc.integer({ min: 1, max: 200000 }),
    ctx: fc.integer({ min: 1, max: 1 << 17 }),
    eps: fc.double({ min: 1e-12, max: 1e-2, noNaN: true }),
  });
  const badArb = fc.constantFrom(0, -3, 1.5, "12", null, true, [], {});
  const fieldArb = fc.constantFrom(
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
  );
  fc.assert(
    fc.property(cfgArb, fieldArb, badArb, (c, field, bad) => {
      const heads = c.kv * c.rep;
      const json: Record<string, unknown> = {
        architectures: [c.arch],
        hidden_size: heads * 2 * c.halfHead,
        num_hidden_layers: c.layers,
        num_attention_heads: heads,
        num_key_value_heads: c.kv,
        intermediate_size: c.ff,
        rms_norm_eps: c.eps,
        max_position_embeddings: c.ctx,
        vocab_size: c.vocab,
      };
      const got = parse(json);
      assert.equal(got.dModel, heads * 2 * c.halfHead);
      assert.equal(got.nHeads, heads);
      assert.equal(got.nKvHeads, c.kv);
      assert.equal(got.nLayers, c.layers);
      assert.equal(got.dFF, c.ff);
      assert.equal(got.vocabSize, c.vocab);
      assert.equal(got.contextLength, c.ctx);
      assert.equal(got.normEps, c.eps);
      try {
        parse({ ...json, [field]: bad });
        assert.fail(`${field}=${JSON.stringify(bad)} parsed`);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
      }
    }),
    { numRuns: 300 },
  );
});
