// Reads a Hugging Face config.json into the normalised ModelConfig (./config.ts): here the class
// it names and the checks every family shares; each family's fields in ./read-config/.
// Only what the engine computes exactly is accepted: anything that would change the maths
// (rope scaling, other activations, extra biases, sliding windows we cannot honour) is a
// ConfigError naming the file and the field, never a silently different model.

import type { GemmaSettings, ModelConfig } from "./config.ts";
import { ConfigError } from "../io/errors.ts";
import { joinPath, readJsonFile } from "../io/files.ts";
import { Fields, type Json } from "./read-config/fields.ts";
import { gemma } from "./read-config/gemma.ts";
import { gpt2, gptj } from "./read-config/gpt2.ts";
import { llama } from "./read-config/llama.ts";
import { neox } from "./read-config/neox.ts";

export { ConfigError };

const GPT2_CLASSES = ["GPT2LMHeadModel"];
const LLAMA_CLASSES = [
  "LlamaForCausalLM",
  "MistralForCausalLM",
  "Qwen2ForCausalLM",
  "Qwen3ForCausalLM",
];
const NEOX_CLASSES = ["GPTNeoXForCausalLM"];
const GPTJ_CLASSES = ["GPTJForCausalLM"];
/** Gemma's classes, by version (GemmaSettings.version). */
const GEMMA_CLASSES: Record<string, GemmaSettings["version"]> = {
  GemmaForCausalLM: 1,
  Gemma2ForCausalLM: 2,
  Gemma3ForCausalLM: 3,
};
export const SUPPORTED_ARCHITECTURES: readonly string[] = [
  ...GPT2_CLASSES,
  ...LLAMA_CLASSES,
  ...NEOX_CLASSES,
  ...GPTJ_CLASSES,
  ...Object.keys(GEMMA_CLASSES),
];

/** Classes of families read here that are refused by name, with the reason. */
const REFUSED_CLASSES: Record<string, string> = {
  Gemma3ForConditionalGeneration:
    "Gemma 3's multimodal model (4B and larger: a vision tower beside the text layers, its " +
    "text config nested under text_config) is not read; its text-only class Gemma3ForCausalLM " +
    "(model_type gemma3_text, Gemma 3 1B) is",
};

/** model_type → class, for old configs without an `architectures` list. */
const MODEL_TYPES: Record<string, string> = {
  gpt2: "GPT2LMHeadModel",
  llama: "LlamaForCausalLM",
  mistral: "MistralForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  qwen3: "Qwen3ForCausalLM",
  gpt_neox: "GPTNeoXForCausalLM",
  gptj: "GPTJForCausalLM",
  gemma: "GemmaForCausalLM",
  gemma2: "Gemma2ForCausalLM",
  gemma3_text: "Gemma3ForCausalLM",
  gemma3: "Gemma3ForConditionalGeneration",
};

/** Reads and normalises `<dir>/config.json`. */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const file = joinPath(dir, "config.json");
  const json = await readJsonFile(
    file,
    (detail, cause) => new ConfigError(file, null, detail, { cause }),
  );
  return parseModelConfig(json, file);
}

/** Normalises a parsed config.json; `source` names it in errors. */
export function parseModelConfig(json: unknown, source: string): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigError(source, null, "config is not a JSON object");
  }
  const f = new Fields(source, json as Json);
  const hfClass = architectureOf(f);
  const config = GPT2_CLASSES.includes(hfClass)
    ? gpt2(f, hfClass)
    : NEOX_CLASSES.includes(hfClass)
    ? neox(f, hfClass)
    : GPTJ_CLASSES.includes(hfClass)
    ? gptj(f, hfClass)
    : Object.hasOwn(GEMMA_CLASSES, hfClass)
    ? gemma(f, hfClass, GEMMA_CLASSES[hfClass])
    : llama(f, hfClass);
  // An explicit head_dim (Llama family) need not divide the width, nor Gemma's (256 by default).
  const explicitHeads = (config.architecture === "llama" && f.has("head_dim")) ||
    config.architecture === "gemma";
  if (config.dModel % config.nHeads !== 0 && !explicitHeads) {
    f.fail(
      GPT2_CLASSES.includes(hfClass) || GPTJ_CLASSES.includes(hfClass)
        ? "n_head"
        : "num_attention_heads",
      `${config.nHeads} heads do not divide the width ${config.dModel}`,
    );
  }
  if (config.nHeads % config.nKvHeads !== 0) {
    f.fail(
      "num_key_value_heads",
      `${config.nKvHeads} key/value heads do not divide the ${config.nHeads} attention heads`,
    );
  }
  for (const field of ["bos_token_id", "eos_token_id"] as const) {
    const id = field === "bos_token_id" ? config.bosTokenId : config.eosTokenId;
    if (id !== null && id >= config.vocabSize) {
      f.fail(field, `token id ${id} is outside the vocabulary of ${config.vocabSize}`);
    }
  }
  return config;
}

function architectureOf(f: Fields): string {
  const archs = f.json.architectures;
  if (archs === undefined || archs === null) {
    const type = f.json.model_type;
    if (typeof type === "string" && Object.hasOwn(MODEL_TYPES, type)) {
      const cls = MODEL_TYPES[type];
      if (Object.hasOwn(REFUSED_CLASSES, cls)) {
        f.fail("model_type", `${JSON.stringify(type)} is ${cls}: ${REFUSED_CLASSES[cls]}`);
      }
      return cls;
    }
    f.fail(
      "architectures",
      `missing, and model_type ${JSON.stringify(type)} is not one of ${
        Object.keys(MODEL_TYPES).filter((t) => !Object.hasOwn(REFUSED_CLASSES, MODEL_TYPES[t]))
          .join(", ")
      }`,
    );
  }
  if (!Array.isArray(archs) || archs.length === 0 || !archs.every((a) => typeof a === "string")) {
    f.fail(
      "architectures",
      `must be a non-empty list of class names, got ${JSON.stringify(archs)}`,
    );
  }
  const known = archs.find((a) => SUPPORTED_ARCHITECTURES.includes(a));
  const refused = archs.find((a) => Object.hasOwn(REFUSED_CLASSES, a));
  if (known === undefined && refused !== undefined) {
    f.fail("architectures", `${refused}: ${REFUSED_CLASSES[refused]}`);
  }
  if (known === undefined) {
    f.fail(
      "architectures",
      `unknown architecture ${archs.join(", ")} (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`,
    );
  }
  return known;
}
