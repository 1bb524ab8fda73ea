// Runs one fuzz suite inside a Worker, so that the parent can stop it if a case hangs (a
// synchronous parser cannot be interrupted by a timer in its own thread) and see a case that
// crashes or exhausts memory. Before each case it posts the case's input; after each case it
// checks that memory did not grow by more than the limit (a declared huge size must never be
// allocated). See fuzz_harness.ts for the protocol and fuzz_test.ts for the suites' purpose.

import fc from "fast-check";
import { parseEditArgs, UsageError } from "../../src/pipeline/args.ts";
import { checkTokenizerFile, guardTokenizer } from "../../src/io/tokenizer-guard.ts";
import { ConfigError, parseModelConfig, readModelConfig } from "../../src/model/read-config.ts";
import { SafetensorsError } from "../../src/io/errors.ts";
import { applyPatchTo, type PatchEntry, readPatch, writePatch } from "../../src/io/patch.ts";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { loadTokenizer, TokenizerError } from "../../src/io/tokenizer.ts";
import type { GemmaSettings, ModelConfig } from "../../src/model/config.ts";
import { planProblems } from "../../src/plan/fit.ts";
import { planMemory } from "../../src/plan/plan.ts";
import { METHODS } from "../../src/methods/registry.ts";

export interface FuzzRequest {
  suite: string;
  numRuns: number;
  seed: number;
  tmp: string;
  memLimit: number;
}

type Msg =
  | { t: "case"; i: number; input: string }
  | {
    t: "done";
    failed: boolean;
    numRuns: number;
    numShrinks: number;
    cases: number;
    counterexample: string | null;
    error: string | null;
    seed: number;
    path: string | null;
    outcomes: Record<string, number>;
  };

const post = (m: Msg) => (self as unknown as Worker).postMessage(m);
const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

let caseNo = 0;
let mem0 = { rss: 0, external: 0 };
let memLimit = 0;
const outcomes: Record<string, number> = {};
const outcome = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);

function begin(input: unknown): void {
  let s: string;
  try {
    s = fc.stringify(input);
  } catch {
    s = String(input);
  }
  post({ t: "case", i: caseNo++, input: s.length > 4000 ? s.slice(0, 4000) + "..." : s });
}

function checkMemory(): void {
  const m = Deno.memoryUsage();
  const grew = Math.max(m.rss - mem0.rss, m.external - mem0.external);
  if (grew > memLimit) {
    throw new Error(`memory grew by ${(grew / 1e6).toFixed(0)} MB (limit ${memLimit / 1e6} MB)`);
  }
}

// ---- shared arbitraries ----

/** Values that break naive parsers: extremes of every JSON type. */
const hostile = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      0,
      -1,
      1,
      2,
      3,
      1.5,
      -0,
      1e308,
      -1e308,
      2 ** 31,
      2 ** 32,
      2 ** 53,
      2 ** 53 + 2,
      Number.MAX_SAFE_INTEGER,
      5e-324,
      "",
      " ",
      "12",
      "NaN",
      null,
      true,
      false,
      [],
      {},
      [1, 2],
      [[]],
      { "__proto__": 1 },
    ),
  },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

/** Sets a key as JSON.parse would (an own property, even for "__proto__"). */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  // A copy: generated constants are shared between cases and must never be mutated.
  const value = structuredClone(v);
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
}

/** Byte-level mutations of a text: flips, cuts, insertions, duplications. */
const textMutations = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant("flip"), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ op: fc.constant("cut"), at: fc.nat() }),
    fc.record({ op: fc.constant("insert"), at: fc.nat(), s: fc.string({ maxLength: 8 }) }),
    fc.record({ op: fc.constant("dup"), at: fc.nat(), len: fc.nat(64) }),
    fc.record({ op: fc.constant("delete"), at: fc.nat(), len: fc.nat(16) }),
  ),
  { minLength: 1, maxLength: 4 },
);

type ByteMutation = { op: string; at: number; bit?: number; s?: string; len?: number };

function mutateBytes(bytes: Uint8Array, muts: readonly ByteMutation[]): Uint8Array {
  let b = bytes;
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.op === "flip" && b.length > 0) {
      b = b.slice();
      b[at] ^= 1 << m.bit!;
    } else if (m.op === "cut") b = b.slice(0, at);
    else if (m.op === "insert") {
      const ins = new TextEncoder().encode(m.s!);
      b = new Uint8Array([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
    } else if (m.op === "dup") {
      b = new Uint8Array([...b.subarray(0, at + m.len!), ...b.subarray(at)]);
    } else if (m.op === "delete") {
      b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + m.len!)]);
    }
  }
  return b;
}

// ---- config.json ----

const configBases: Record<string, unknown>[] = [
  JSON.parse(Deno.readTextFileSync(`${FIXTURES}tiny-gpt2/config.json`)),
  JSON.parse(Deno.readTextFileSync(`${FIXTURES}tiny-llama/config.json`)),
  JSON.parse(Deno.readTextFileSync(`${FIXTURES}tiny-qwen3/config.json`)),
  JSON.parse(Deno.readTextFileSync(`${FIXTURES}tiny-neox/config.json`)),
  JSON.parse(Deno.readTextFileSync(`${FIXTURES}tiny-gptj/config.json`)),
  JSON.parse(Deno.readTextFileSync(`${FIXTURES}tiny-gemma/config.json`)),
  JSON.parse(Deno.readTextFileSync(`${FIXTURES}tiny-gemma2/config.json`)),
  JSON.parse(Deno.readTextFileSync(`${FIXTURES}tiny-gemma3/config.json`)),
];
configBases.push({
  ...configBases[1],
  architectures: ["MistralForCausalLM"],
  model_type: "mistral",
  sliding_window: 16,
});
configBases.push({
  ...configBases[1],
  architectures: ["Qwen2ForCausalLM"],
  model_type: "qwen2",
  use_sliding_window: false,
  tie_word_embeddings: true,
});
const configKeys = [
  ...new Set([
    ...configBases.flatMap((c) => Object.keys(c)),
    "head_dim",
    "rope_scaling",
    "rope_parameters",
    "sliding_window",
    "use_sliding_window",
    "attention_bias",
    "mlp_bias",
    "n_inner",
    "num_key_value_heads",
    "layer_types",
    "use_bidirectional_attention",
    "__proto__",
    "constructor",
    "toString",
  ]),
];
const configValue = fc.oneof(
  hostile,
  fc.constantFrom<unknown>(
    ["LlamaForCausalLM"],
    ["GPT2LMHeadModel", 3],
    ["Unknown", "Qwen2ForCausalLM"],
    ["Qwen3ForCausalLM"],
    ["GPTNeoXForCausalLM"],
    ["GPTJForCausalLM"],
    ["GemmaForCausalLM"],
    ["Gemma2ForCausalLM"],
    ["Gemma3ForCausalLM"],
    ["Gemma3ForConditionalGeneration"],
    ["sliding_attention", "full_attention", "sliding_attention"],
    ["full_attention", "chunked_attention"],
    {
      full_attention: { rope_type: "linear", factor: 8, rope_theta: 1e6 },
      sliding_attention: { rope_type: "default", rope_theta: 1e4 },
    },
    { sliding_attention: { rope_type: "yarn", factor: 4 } },
    { rope_type: "default", rope_theta: -1 },
    { rope_type: "yarn", factor: 4 },
    { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4 },
    {
      rope_type: "llama3",
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    },
    { type: "linear", factor: 2 },
    { type: "dynamic", factor: 2, original_max_position_embeddings: 16 },
    { rope_type: "default" },
    "gelu",
    "relu",
    "silu",
    "gpt2",
    "llama",
    "gelu_pytorch_tanh",
    "gemma3",
    "gemma3_text",
    null,
  ),
);
const configMutation = fc.oneof(
  fc.record({
    op: fc.constant("set" as const),
    key: fc.oneof(fc.constantFrom(...configKeys), fc.string({ maxLength: 12 })),
    value: configValue,
  }),
  fc.record({ op: fc.constant("del" as const), key: fc.constantFrom(...configKeys) }),
);
const configInput = fc.oneof(
  fc.record({ kind: fc.constant("json" as const), value: fc.jsonValue() }),
  fc.record({
    kind: fc.constant("mutated" as const),
    base: fc.nat(configBases.length - 1),
    muts: fc.array(configMutation, { minLength: 1, maxLength: 6 }),
  }),
  fc.record({
    kind: fc.constant("text" as const),
    base: fc.nat(configBases.length - 1),
    muts: textMutations,
  }),
);

function checkConfig(c: ModelConfig): void {
  const ints = [c.vocabSize, c.contextLength, c.dModel, c.nLayers, c.nHeads, c.nKvHeads, c.dFF];
  for (const v of ints) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`bad size ${v} in ${JSON.stringify(c)}`);
  }
  if (!(c.normEps > 0 && Number.isFinite(c.normEps))) throw new Error("bad eps");
  if (!(c.ropeTheta > 0 && Number.isFinite(c.ropeTheta))) throw new Error("bad rope theta");
  const scaling = Object.values(c.ropeScaling ?? {}).filter((v) => typeof v === "number");
  if (!scaling.every((v) => v > 0 && Number.isFinite(v))) throw new Error("bad rope scaling");
  if (c.nHeads % c.nKvHeads !== 0 || !Number.isSafeInteger(c.headDim) || c.headDim < 1) {
    throw new Error("bad heads");
  }
  // Only a Llama-family (Qwen3) or Gemma head_dim may differ from the width / heads.
  if (!["llama", "gemma"].includes(c.architecture) && c.headDim * c.nHeads !== c.dModel) {
    throw new Error("bad heads");
  }
  if (!["gpt2", "llama", "gptneox", "gptj", "gemma"].includes(c.architecture)) {
    throw new Error("bad arch");
  }
  if ((c.architecture === "gemma") !== (c.gemma !== undefined)) throw new Error("bad gemma");
  if (c.gemma) checkGemma(c, c.gemma);
  if (c.architecture !== "gpt2") {
    const r = c.rotaryDims;
    if (!(Number.isSafeInteger(r) && r >= 2 && r % 2 === 0 && r <= c.headDim)) {
      throw new Error(`bad rotary dims ${r} of ${c.headDim}`);
    }
  }
  for (const id of [c.bosTokenId, c.eosTokenId]) {
    if (id !== null && !(Number.isSafeInteger(id) && id >= 0 && id < c.vocabSize)) {
      throw new Error(`bad token id ${id}`);
    }
  }
  // Whatever a config claims, planning it is arithmetic: bounded time, no allocation.
  const plan = planMemory(c, { seqLen: 16, batch: 2, igSteps: 2, backend: "wasm" });
  for (const [k, v] of Object.entries(plan.bytes)) {
    if (!(v >= 0)) throw new Error(`plan ${k} = ${v}`);
  }
  planProblems(plan, {
    backend: "wasm",
    deviceBytes: 4e9,
    deviceIsHost: true,
    hostAvailable: 8e9,
    maxBindingBytes: 4e9,
    maxBufferBytes: 4e9,
    description: "fuzz",
  }, "edit");
}

/** Gemma's settings: positive finite scales and caps, a sliding flag for every layer. */
function checkGemma(c: ModelConfig, g: GemmaSettings): void {
  const positive = (v: number | null) => v === null || (v > 0 && Number.isFinite(v));
  if (![g.queryPreAttnScalar, g.attnSoftcap, g.finalSoftcap].every(positive)) {
    throw new Error(`bad gemma scales ${JSON.stringify(g)}`);
  }
  if ("period" in g.sliding) {
    if (!Number.isSafeInteger(g.sliding.period) || g.sliding.period < 1) {
      throw new Error("bad sliding period");
    }
  } else if (g.sliding.length !== (g.version === 1 ? 0 : c.nLayers)) {
    throw new Error("bad sliding layers");
  }
  const local = g.localRope;
  if ((local !== null) !== (g.version === 3) || (local && !positive(local.theta))) {
    throw new Error("bad local rotary");
  }
}

const configProperty = (tmp: string) =>
  fc.asyncProperty(configInput, async (input) => {
    begin(input);
    let config: ModelConfig;
    try {
      if (input.kind === "json") config = parseModelConfig(input.value, "fuzz");
      else if (input.kind === "mutated") {
        const o = structuredClone(configBases[input.base]);
        for (const m of input.muts) {
          if (m.op === "set") setOwn(o, m.key, m.value);
          else delete o[m.key];
        }
        config = parseModelConfig(JSON.parse(JSON.stringify(o)), "fuzz");
      } else {
        const text = new TextEncoder().encode(JSON.stringify(configBases[input.base], null, 2));
        await Deno.writeFile(`${tmp}/config.json`, mutateBytes(text, input.muts));
        config = await readModelConfig(tmp);
      }
    } catch (e) {
      if (e instanceof ConfigError) {
        outcome("ConfigError");
        checkMemory();
        return;
      }
      throw new Error(`threw a non-ConfigError: ${e}`);
    }
    outcome("accepted");
    checkConfig(config);
    checkMemory();
  });

// ---- tokenizer.json ----

const tokBases: Record<string, unknown>[] = [
  JSON.parse(Deno.readTextFileSync(`${FIXTURES}tiny-gpt2/tokenizer.json`)),
  JSON.parse(Deno.readTextFileSync(`${FIXTURES}tiny-llama/tokenizer.json`)),
  {
    version: "1.0",
    added_tokens: [{ id: 0, content: "<unk>", special: true }],
    normalizer: null,
    pre_tokenizer: { type: "Whitespace" },
    post_processor: null,
    decoder: null,
    model: {
      type: "BPE",
      unk_token: "<unk>",
      vocab: { "<unk>": 0, T: 1, h: 2, e: 3, Th: 4, The: 5, a: 6, p: 7, i: 8, t: 9, l: 10 },
      merges: ["T h", "Th e"],
    },
  },
  {
    version: "1.0",
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: "Whitespace" },
    post_processor: null,
    decoder: null,
    model: {
      type: "Unigram",
      unk_id: 0,
      vocab: [["<unk>", 0], ["The", -1], ["capital", -2], ["of", -1.5], ["a", -3], ["e", -3]],
    },
  },
];

/** JSON paths (keys from the root) of every value in a tokenizer, to aim mutations at. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(prefix);
  if (prefix.length >= 4) return out;
  if (Array.isArray(v)) v.slice(0, 6).forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v).slice(0, 12)) paths(x, [...prefix, k], out);
  }
  return out;
}
const tokPaths = tokBases.map((b) => paths(b).filter((p) => p.length > 0));

const REDOS = ["(a+)+$", "(.*a){12}", "(\\w+\\s?)+$", "([a-zA-Z]+)*!", "(x|x)*y"];
const tokValue = fc.oneof(
  hostile,
  fc.constantFrom<unknown>(
    "BPE",
    "WordPiece",
    "Unigram",
    "WordLevel",
    "[UNK]",
    2 ** 31 - 1,
    2 ** 32,
    2 ** 53 - 1,
    1e300,
    { type: "Whitespace" },
    { type: "ByteLevel", add_prefix_space: true },
    { type: "Metaspace", replacement: "▁" },
    { type: "NFKC" },
    { type: "Lowercase" },
    { type: "Sequence", pretokenizers: [{ type: "Whitespace" }, { type: "Digits" }] },
    ...REDOS.map((r) => ({ type: "Split", pattern: { Regex: r }, behavior: "Isolated" })),
    ...REDOS.map((r) => ({ type: "Replace", pattern: { Regex: r }, content: "x" })),
    { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<s>", type_id: 0 } }] },
    [{ id: 2 ** 31, content: "huge" }],
    [{ id: -1, content: "neg" }],
    [{ id: 5, content: "" }],
  ),
);
const tokMutation = fc.oneof(
  fc.record({ op: fc.constant("set" as const), path: fc.nat(), value: tokValue }),
  fc.record({ op: fc.constant("del" as const), path: fc.nat() }),
  fc.record({ op: fc.constant("vocab" as const), key: fc.string({ maxLength: 6 }), id: tokValue }),
  fc.record({
    op: fc.constant("top" as const),
    key: fc.constantFrom("pre_tokenizer", "normalizer", "post_processor", "decoder"),
    value: tokValue,
  }),
);
const tokInput = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("mutated" as const),
      base: fc.nat(tokBases.length - 1),
      muts: fc.array(tokMutation, { minLength: 1, maxLength: 4 }),
      withVocab: fc.boolean(),
      config: fc.oneof(
        { weight: 4, arbitrary: fc.constant(undefined) },
        {
          weight: 2,
          arbitrary: fc.dictionary(
            fc.constantFrom(
              "model_max_length",
              "add_bos_token",
              "add_eos_token",
              "bos_token",
              "eos_token",
              "unk_token",
              "clean_up_tokenization_spaces",
              "tokenizer_class",
            ),
            tokValue,
            { maxKeys: 4 },
          ),
        },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("text" as const),
      base: fc.nat(tokBases.length - 1),
      muts: textMutations,
      withVocab: fc.boolean(),
    }),
  },
);

function setPath(o: unknown, path: (string | number)[], value: unknown, del: boolean): void {
  let cur = o as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) {
    const next = cur[k];
    if (!next || typeof next !== "object") return;
    cur = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (del) {
    if (Array.isArray(cur) && typeof last === "number") cur.splice(last, 1);
    else delete cur[last];
  } else setOwn(cur as Record<string, unknown>, String(last), value);
}

const SENTENCE = "The capital of France is Paris, isn't it? aaaaaaaaaaaaaaaaaaaaaaaa!";

const tokenizerProperty = (tmp: string) =>
  fc.asyncProperty(tokInput, async (input) => {
    begin(input);
    await Deno.remove(`${tmp}/tokenizer_config.json`).catch(() => {});
    if (input.kind === "mutated") {
      const o = structuredClone(tokBases[input.base]);
      const ps = tokPaths[input.base];
      for (const m of input.muts) {
        if (m.op === "top") setOwn(o, m.key, m.value);
        else if (m.op === "vocab") {
          const model = o.model as Record<string, unknown>;
          if (
            model && model.vocab && typeof model.vocab === "object" && !Array.isArray(model.vocab)
          ) {
            setOwn(model.vocab as Record<string, unknown>, m.key, m.id);
          }
        } else setPath(o, ps[m.path % ps.length], m.op === "set" ? m.value : null, m.op === "del");
      }
      await Deno.writeTextFile(`${tmp}/tokenizer.json`, JSON.stringify(o));
      if (input.config !== undefined) {
        await Deno.writeTextFile(`${tmp}/tokenizer_config.json`, JSON.stringify(input.config));
      }
    } else {
      const text = new TextEncoder().encode(JSON.stringify(tokBases[input.base], null, 2));
      await Deno.writeFile(`${tmp}/tokenizer.json`, mutateBytes(text, input.muts));
    }
    let tok;
    try {
      tok = await loadTokenizer(tmp, input.withVocab ? 96 : undefined);
    } catch (e) {
      if (e instanceof TokenizerError) {
        outcome("TokenizerError");
        checkMemory();
        return;
      }
      throw new Error(`loadTokenizer threw a non-TokenizerError: ${e}`);
    }
    outcome("loaded");
    checkMemory();
    // As the edit CLI uses it (patterns checked, ids checked), a loaded tokenizer encodes a
    // sentence to ids inside its vocabulary or throws TokenizerError, in bounded time (the
    // watchdog). Raw encodes that give ids outside the vocabulary are counted.
    try {
      await checkTokenizerFile(tmp);
    } catch (e) {
      if (!(e instanceof TokenizerError)) throw new Error(`pattern check threw ${e}`);
      outcome("refused: nested-repeat pattern");
      return;
    }
    try {
      const raw = tok.encode(SENTENCE);
      const bad = raw.some((i) => !(Number.isInteger(i) && i >= 0 && i < tok.vocabSize));
      outcome(bad ? "raw encode: ids outside the vocabulary" : "raw encode: ok");
    } catch (e) {
      outcome(`raw encode threw ${(e as Error).name}`);
    }
    const guarded = guardTokenizer(tok);
    try {
      const ids = guarded.encode(SENTENCE);
      if (!ids.every((i) => Number.isInteger(i) && i >= 0 && i < tok.vocabSize)) {
        throw new Error(`guarded encode gave ids outside [0, ${tok.vocabSize}): ${ids}`);
      }
      guarded.decode(ids);
      outcome("guarded encode: ok");
    } catch (e) {
      if (!(e instanceof TokenizerError)) {
        throw new Error(`guarded encode/decode threw a non-TokenizerError: ${e}`);
      }
      outcome("guarded encode: TokenizerError");
    }
    checkMemory();
  });

// ---- sparse patches ----

const changeArb = fc.record({
  rows: fc.integer({ min: 1, max: 6 }),
  cols: fc.integer({ min: 1, max: 6 }),
  picks: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
});
const patchArb = fc.array(changeArb, { minLength: 1, maxLength: 3 });
const patchMutation = fc.oneof(
  fc.record({ op: fc.constant("shapes" as const), value: hostile }),
  fc.record({ op: fc.constant("shapesText" as const), text: fc.string({ maxLength: 30 }) }),
  fc.record({
    op: fc.constant("shape" as const),
    tensor: fc.nat(),
    value: fc.oneof(
      hostile,
      fc.constantFrom<unknown>(
        [2 ** 26, 2 ** 26],
        [2 ** 40, 2 ** 40],
        [-1, 4],
        [1.5],
        ["3"],
        [[2]],
        [0],
        [],
      ),
    ),
  }),
  fc.record({
    op: fc.constant("index" as const),
    tensor: fc.nat(),
    at: fc.nat(),
    value: fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 2 ** 31 - 1, -(2 ** 31))),
  }),
  fc.record({ op: fc.constant("drop" as const), tensor: fc.nat(), which: fc.nat(2) }),
  fc.record({ op: fc.constant("retype" as const), tensor: fc.nat(), which: fc.nat(2) }),
  fc.record({ op: fc.constant("shorten" as const), tensor: fc.nat(), which: fc.nat(2) }),
  fc.record({ op: fc.constant("format" as const), value: fc.string({ maxLength: 20 }) }),
  fc.record({ op: fc.constant("bytes" as const), muts: textMutations }),
);

const patchProperty = (tmp: string) =>
  fc.asyncProperty(
    patchArb,
    fc.array(patchMutation, { maxLength: 3 }),
    fc.boolean(),
    async (spec, muts, apply) => {
      begin({ spec, muts, apply });
      // A valid patch of random changes.
      const changes = spec.map((c, t) => {
        const n = c.rows * c.cols;
        const idx = [...new Set(c.picks.map((p) => p % n))].sort((a, b) => a - b);
        return {
          name: `layer.${t}.weight`,
          shape: [c.rows, c.cols],
          indices: Uint32Array.from(idx),
          before: Float32Array.from(idx, (i) => i + 0.25),
          after: Float32Array.from(idx, (i) => -i - 0.5),
        };
      });
      const path = `${tmp}/p.safetensors`;
      if (muts.length === 0) await writePatch(path, changes, { method: "fuzz" });
      else {
        const shapes: Record<string, unknown> = {};
        type T = {
          name: string;
          shape: number[];
          data: Float32Array | Int32Array;
          dtype?: "F32" | "I32";
        };
        let tensors: T[] = changes.flatMap((c) => {
          shapes[c.name] = [...c.shape];
          return [
            {
              name: `${c.name}::index`,
              shape: [c.indices.length],
              data: Int32Array.from(c.indices),
              dtype: "I32" as const,
            },
            { name: `${c.name}::after`, shape: [c.after.length], data: c.after },
            { name: `${c.name}::before`, shape: [c.before.length], data: c.before },
          ];
        });
        const meta: Record<string, string> = { format: "kne-sparse-patch-v1" };
        let shapesText: string | null = null;
        let byteMuts: readonly ByteMutation[] | null = null;
        const names = changes.map((c) => c.name);
        for (const m of muts) {
          if (m.op === "shapes") shapesText = JSON.stringify(m.value) ?? "null";
          else if (m.op === "shapesText") shapesText = m.text;
          else if (m.op === "shape") shapes[names[m.tensor % names.length]] = m.value;
          else if (m.op === "format") meta.format = m.value;
          else if (m.op === "bytes") byteMuts = m.muts;
          else {
            const name = names[m.tensor % names.length];
            const suffix = ["::index", "::after", "::before"][m.op === "index" ? 0 : m.which];
            const k = tensors.findIndex((x) => x.name === name + suffix);
            if (k < 0) continue;
            const t = tensors[k];
            if (m.op === "index") {
              if (t.data.length > 0 && t.data instanceof Int32Array) {
                const d = Int32Array.from(t.data);
                d[m.at % d.length] = m.value;
                tensors[k] = { ...t, data: d };
              }
            } else if (m.op === "drop") tensors = tensors.filter((_, j) => j !== k);
            else if (m.op === "retype") {
              tensors[k] = t.data instanceof Int32Array
                ? { name: t.name, shape: t.shape, data: Float32Array.from(t.data) }
                : { name: t.name, shape: t.shape, data: Int32Array.from(t.data), dtype: "I32" };
            } else if (m.op === "shorten" && t.data.length > 0) {
              tensors[k] = {
                ...t,
                shape: [t.data.length - 1],
                data: t.data.subarray(0, t.data.length - 1),
              } as T;
            }
          }
        }
        meta.shapes = shapesText ?? JSON.stringify(shapes);
        await writeSafetensors(path, tensors as Parameters<typeof writeSafetensors>[1], meta);
        if (byteMuts) await Deno.writeFile(path, mutateBytes(await Deno.readFile(path), byteMuts));
      }
      let patch: PatchEntry[];
      try {
        patch = await readPatch(path);
      } catch (e) {
        if (e instanceof SafetensorsError) {
          outcome("SafetensorsError");
          checkMemory();
          return;
        }
        throw new Error(`readPatch threw a non-SafetensorsError: ${e}`);
      }
      outcome("read");
      for (const e of patch) {
        const numel = e.shape.reduce((a, b) => a * b, 1);
        let prev = -1;
        for (const i of e.indices) {
          if (!(i > prev && i < numel)) throw new Error(`index ${i} accepted in ${e.name}`);
          prev = i;
        }
        if (e.after.length !== e.indices.length || e.before.length !== e.indices.length) {
          throw new Error("lengths differ");
        }
      }
      // Applying to the model the patch was made for: either exact, or refused with nothing
      // changed.
      const weights = new Map(changes.map((c) => {
        const w = new Float32Array(c.shape[0] * c.shape[1]);
        // The values the patch starts from: `before` to apply, `after` to revert.
        c.indices.forEach((i, k) => (w[i] = (apply ? c.before : c.after)[k]));
        return [c.name, w] as const;
      }));
      const snapshot = new Map([...weights].map(([k, v]) => [k, v.slice()]));
      try {
        applyPatchTo(weights, patch, apply ? "apply" : "revert");
        outcome("applied");
        if (muts.length === 0) {
          applyPatchTo(weights, patch, apply ? "revert" : "apply");
          for (const [k, v] of snapshot) {
            const w = weights.get(k)!;
            if (!v.every((x, i) => Object.is(x, w[i]))) throw new Error("apply/revert not exact");
          }
        }
      } catch (e) {
        if (!(e instanceof SafetensorsError)) throw new Error(`applyPatchTo threw ${e}`);
        outcome("apply refused");
        for (const [k, v] of snapshot) {
          const w = weights.get(k)!;
          if (!v.every((x, i) => Object.is(x, w[i]))) throw new Error("refused patch wrote");
        }
      }
      checkMemory();
    },
  );

/** Hand-built entries with indices out of range: applyPatchTo refuses and writes nothing. */
const applyRangeProperty = () =>
  fc.property(
    fc.integer({ min: 1, max: 20 }),
    fc.array(
      fc.oneof(fc.integer({ min: -3, max: 24 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      { minLength: 1, maxLength: 6 },
    ),
    (n, idx) => {
      begin({ n, idx });
      const w = new Float32Array(n).fill(7);
      const entry: PatchEntry = {
        name: "w",
        shape: [n],
        indices: Int32Array.from(idx),
        after: new Float32Array(idx.length).fill(1),
        before: new Float32Array(idx.length).fill(7),
      };
      const bad = idx.some((i) => i < 0 || i >= n);
      try {
        applyPatchTo(new Map([["w", w]]), [entry], "apply");
        if (bad) throw new Error(`accepted out-of-range indices ${idx} for ${n} entries`);
        outcome("applied");
      } catch (e) {
        if (!(e instanceof SafetensorsError) || !bad) throw e;
        if (!w.every((x) => x === 7)) throw new Error("refused patch wrote");
        outcome("refused");
      }
    },
  );

// ---- edit CLI arguments ----

const FLAGS = [
  "--model",
  "--requests",
  "--format",
  "--prompt",
  "--target",
  "--subject",
  "--n",
  "--method",
  "--hparams",
  "--mode",
  "--backend",
  "--dtype",
  "--out",
  "--anchors",
  "--force",
  "--resume",
  "--plan",
  "--no-fluency",
  "--json",
  "--seed",
  "--help",
  "-h",
  "--",
  "-",
  "--frob",
  "--n=3",
  "--mode=batch",
  "--force=yes",
  "-x",
];
const VALUES = [
  "",
  " ",
  "0",
  "1",
  "-1",
  "1.5",
  "1e3",
  "9007199254740993",
  "single",
  "batch",
  "sequential",
  "wasm",
  "webgpu",
  "auto",
  "kne",
  "f16",
  "f32",
  "bf16",
  "counterfact",
  "zsre",
  "rome",
  "out/x",
  "out/x/",
  "/",
  "The capital of France is",
  "France",
  "Rome",
];
const argvArb = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...FLAGS) },
    { weight: 3, arbitrary: fc.constantFrom(...VALUES) },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
  ),
  { maxLength: 10 },
);

const argsProperty = () =>
  fc.property(argvArb, (argv) => {
    begin(argv);
    let a;
    try {
      a = parseEditArgs(argv);
    } catch (e) {
      if (e instanceof UsageError) {
        outcome("UsageError");
        return;
      }
      throw new Error(`parseEditArgs threw a non-UsageError: ${e}`);
    }
    outcome("accepted");
    if (a.help) return;
    const ok = ["single", "batch", "sequential"].includes(a.mode) &&
      ["wasm", "webgpu", "auto"].includes(a.backend) && METHODS.has(a.method) &&
      ["auto", "f32", "f16"].includes(a.dtype) && (a.dtype !== "f16" || a.method === "kne") &&
      Number.isSafeInteger(a.seed) &&
      (a.n === undefined || (Number.isSafeInteger(a.n) && a.n >= 1)) &&
      (a.prompt === undefined) === (a.target === undefined) &&
      !(a.prompt !== undefined && a.requests !== undefined) &&
      ["auto", "knowedit", "counterfact", "zsre", "mquake"].includes(a.format) &&
      !(a.prompt !== undefined && a.format !== "auto") &&
      !(a.subject !== undefined && a.prompt === undefined) &&
      (a.subject === undefined || (a.subject.trim() !== "" && a.prompt!.includes(a.subject))) &&
      !(a.prompt !== undefined && a.n !== undefined) &&
      !(a.resume && a.out === undefined) &&
      (a.out === undefined || (a.out !== "" && (a.out === "/" || !a.out.endsWith("/")))) &&
      a.model !== "" && (a.model === "/" || !a.model.endsWith("/"));
    if (!ok) throw new Error(`accepted an invalid command line: ${JSON.stringify(a)}`);
  });

// ---- driver ----

self.onmessage = async (ev: MessageEvent<FuzzRequest>) => {
  const { suite, numRuns, seed, tmp } = ev.data;
  memLimit = ev.data.memLimit;
  const m = Deno.memoryUsage();
  mem0 = { rss: m.rss, external: m.external };
  const props: Record<string, () => fc.IAsyncProperty<unknown[]> | fc.IProperty<unknown[]>> = {
    config: () => configProperty(tmp) as unknown as fc.IAsyncProperty<unknown[]>,
    tokenizer: () => tokenizerProperty(tmp) as unknown as fc.IAsyncProperty<unknown[]>,
    patch: () => patchProperty(tmp) as unknown as fc.IAsyncProperty<unknown[]>,
    "patch apply range": () => applyRangeProperty() as unknown as fc.IProperty<unknown[]>,
    args: () => argsProperty() as unknown as fc.IProperty<unknown[]>,
  };
  const prop = props[suite];
  if (!prop) throw new Error(`unknown suite ${suite}`);
  const d = await fc.check(prop() as fc.IAsyncProperty<unknown[]>, { numRuns, seed });
  post({
    t: "done",
    failed: d.failed,
    numRuns: d.numRuns,
    numShrinks: d.numShrinks,
    cases: caseNo,
    counterexample: d.counterexample ? fc.stringify(d.counterexample) : null,
    error: d.errorInstance ? String((d.errorInstance as Error).stack ?? d.errorInstance) : null,
    seed: d.seed,
    path: d.counterexamplePath,
    outcomes,
  });
};
