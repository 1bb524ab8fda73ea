// Loads a Hugging Face tokenizer.json (plus tokenizer_config.json when present) through
// @huggingface/tokenizers, and checks that its ids fit the model's embedding table. A page that
// fetched the JSON builds the same tokenizer with tokenizerFromJson.

import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { TokenizerError } from "./errors.ts";
import { fsReason, joinPath, readRegularText } from "./files.ts";

export { TokenizerError };

export interface EncodeOptions {
  /** Add the tokenizer's special tokens (BOS, CLS/SEP...) as its post-processor says. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** The tokenizer.json it was loaded from. */
  readonly file: string;
  /** One more than the largest token id (vocabulary plus added tokens). */
  readonly vocabSize: number;
  /** Token ids of `text`; no special tokens unless `addSpecialTokens`. */
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The id of a token string, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined;
  /** The string of a token id, or undefined when the id is unused. */
  idToToken(id: number): string | undefined;
}

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

async function readJson(file: string, optional: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readRegularText(file);
  } catch (e) {
    if (optional && e instanceof Deno.errors.NotFound) return undefined;
    throw new TokenizerError(file, null, `cannot read: ${fsReason(e)}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(file, null, `not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Largest id in the model vocabulary and added tokens, plus one (read from the JSON itself). */
function declaredVocabSize(file: string, json: Json): number {
  const model = json.model as Json;
  let max = -1;
  const see = (id: unknown, what: string) => {
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) {
      throw new TokenizerError(file, what, `token id ${JSON.stringify(id)} is not valid`);
    }
    max = Math.max(max, id);
  };
  if (Array.isArray(model.vocab)) {
    // Unigram: [piece, score] pairs, the id is the position.
    max = model.vocab.length - 1;
  } else if (isObject(model.vocab)) {
    for (const [tok, id] of Object.entries(model.vocab)) see(id, `model.vocab.${tok}`);
  } else {
    throw new TokenizerError(file, "model.vocab", "missing or not an object / list");
  }
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw new TokenizerError(file, "added_tokens", "must be a list");
  added.forEach((t, i) => {
    if (!isObject(t) || typeof t.content !== "string") {
      throw new TokenizerError(file, `added_tokens[${i}]`, "must have a string content and id");
    }
    see(t.id, `added_tokens[${i}]`);
  });
  return max + 1;
}

/**
 * A BPE model's merges: a list of "a b" strings or [a, b] pairs (the library otherwise fails
 * inside with "Cannot read properties of undefined").
 */
function checkMerges(file: string, merges: unknown): void {
  if (!Array.isArray(merges)) {
    throw new TokenizerError(file, "model.merges", "missing or not a list (a BPE model needs it)");
  }
  merges.forEach((m, i) => {
    const ok = typeof m === "string"
      ? m.includes(" ")
      : Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === "string");
    if (!ok) {
      throw new TokenizerError(
        file,
        `model.merges[${i}]`,
        `expected "a b" or ["a", "b"], got ${JSON.stringify(m)?.slice(0, 60)}`,
      );
    }
  });
}

/**
 * Loads `<dir>/tokenizer.json`. When `modelVocabSize` is given, a tokenizer whose ids reach
 * past the model's embedding rows is an error (a smaller tokenizer is fine: models often pad).
 */
export async function loadTokenizer(dir: string, modelVocabSize?: number): Promise<Tokenizer> {
  const file = joinPath(dir, "tokenizer.json");
  const json = await readJson(file, false);
  const configFile = joinPath(dir, "tokenizer_config.json");
  const config = (await readJson(configFile, true)) ?? {};
  if (!isObject(config)) {
    throw new TokenizerError(configFile, null, "tokenizer_config.json is not an object");
  }
  return tokenizerFromJson(file, json, config, modelVocabSize);
}

/**
 * The tokenizer of a parsed tokenizer.json (`file` names it in errors) and its
 * tokenizer_config.json ({} when there is none), with loadTokenizer's checks.
 */
export function tokenizerFromJson(
  file: string,
  json: unknown,
  config: Record<string, unknown>,
  modelVocabSize?: number,
): Tokenizer {
  if (!isObject(json)) throw new TokenizerError(file, null, "tokenizer.json is not an object");
  if (!isObject(json.model)) throw new TokenizerError(file, "model", "missing or not an object");
  const type = json.model.type;
  if (type !== undefined && !["BPE", "WordPiece", "Unigram"].includes(type as string)) {
    // The library would otherwise guess a model from the fields and tokenize differently.
    throw new TokenizerError(
      file,
      "model.type",
      `unsupported tokenizer model ${JSON.stringify(type)} (supported: BPE, WordPiece, Unigram)`,
    );
  }
  if (type === "BPE") checkMerges(file, json.model.merges);
  const vocabSize = declaredVocabSize(file, json);
  if (modelVocabSize !== undefined && vocabSize > modelVocabSize) {
    throw new TokenizerError(
      file,
      "model.vocab",
      `tokenizer has ${vocabSize} token ids but the model's vocab_size is ${modelVocabSize}`,
    );
  }
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer({
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      added_tokens: [],
      ...json,
    }, config);
  } catch (e) {
    throw new TokenizerError(file, null, `unsupported tokenizer: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const checkIds = (ids: readonly number[]) => {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new TokenizerError(file, null, `token id ${id} is outside [0, ${vocabSize})`);
      }
    }
  };
  return {
    file,
    vocabSize,
    encode(text, options = {}) {
      return tok.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
    },
    decode(ids, options = {}) {
      if (ids.length === 0) return "";
      checkIds(ids);
      return tok.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
    },
    tokenToId: (token) => tok.token_to_id(token),
    idToToken: (id) => tok.id_to_token(id),
  };
}
