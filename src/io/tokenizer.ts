// Loads a model folder's tokenizer through @huggingface/tokenizers: its tokenizer.json, or the one
// its other tokenizer files make (tokenizer-source.ts), with tokenizer_config.json when present,
// and checks that its ids fit the model's embedding table. A page that fetched the files builds
// the same tokenizer with tokenizerFromJson.

import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { TokenizerError } from "./errors.ts";
import { readTokenizerConfig, readTokenizerJson } from "./tokenizer-source.ts";
import { isPlainObject } from "./json.ts";

export { TokenizerError };

/** How Tokenizer.encode encodes. */
export interface EncodeOptions {
  /**
   * Put the tokenizer's leading special tokens (`leadingIds`, Llama's <s>) before the text, as
   * Hugging Face does for a model input (default true); false for a piece of a text (a subject,
   * an answer, a training document).
   */
  addSpecialTokens?: boolean;
}

/** How Tokenizer.decode decodes. */
export interface DecodeOptions {
  /** Leave out special tokens (<s>, <|endoftext|>...) instead of writing them (default false). */
  skipSpecialTokens?: boolean;
}

/** A model's tokenizer: text to token ids and back, as Hugging Face's encodes a model input. */
export interface Tokenizer {
  /** The tokenizer.json it was loaded from. */
  readonly file: string;
  /** One more than the largest token id (vocabulary plus added tokens). */
  readonly vocabSize: number;
  /**
   * The special tokens put before every model input (Llama's <s>; none for GPT-2): those of the
   * post-processor's template before its sequence, or the BOS token when tokenizer_config.json
   * sets add_bos_token (false there: none). Trailing ones (EOS, SEP) are never added: a prompt is
   * continued, not closed.
   */
  readonly leadingIds: readonly number[];
  /**
   * Whether encode puts a space before a text that begins without one and decode keeps it
   * (a ByteLevel pre-tokenizer's add_prefix_space); `inputText` takes it off again.
   */
  readonly addsPrefixSpace: boolean;
  /** Token ids of `text`, after `leadingIds` unless `addSpecialTokens` is false. */
  encode(text: string, options?: EncodeOptions): number[];
  /**
   * The text of `ids`, as Hugging Face decodes it; an id past the vocabulary but within the
   * model's embedding rows (a padded vocabulary) decodes to nothing.
   */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The id of a token string, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined;
  /** The string of a token id, or undefined when the id is unused. */
  idToToken(id: number): string | undefined;
}

/** `ids` without the tokenizer's leading special tokens when it starts with them (for text). */
export function withoutLeading(tok: Tokenizer, ids: readonly number[]): readonly number[] {
  const n = tok.leadingIds.length;
  return n > 0 && tok.leadingIds.every((id, i) => ids[i] === id) ? ids.slice(n) : ids;
}

/**
 * The text of a model input (`encode`'s ids, perhaps continued by a generation): without the
 * leading special tokens and without the space the tokenizer put before it. A text that began
 * with a space comes back without it, as from Llama's tokenizer.
 */
export function inputText(tok: Tokenizer, ids: readonly number[]): string {
  const text = tok.decode(withoutLeading(tok, ids));
  return tok.addsPrefixSpace && text.startsWith(" ") ? text.slice(1) : text;
}

/**
 * A prompt followed by its answer as one text: joined by a space, unless the answer brings its own
 * leading white space (" Paris", as GPT-2-era data writes targets), which is then the one space.
 * White space after the answer is dropped: "Rome " would teach a space token after Rome, which
 * the next word's own leading space should be.
 */
export function promptWithAnswer(prompt: string, answer: string): string {
  const a = answer.trimEnd();
  return /^\s/.test(a) ? prompt + a : `${prompt} ${a}`;
}

type Json = Record<string, unknown>;

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
  } else if (isPlainObject(model.vocab)) {
    for (const [tok, id] of Object.entries(model.vocab)) see(id, `model.vocab.${tok}`);
  } else {
    throw new TokenizerError(file, "model.vocab", "missing or not an object / list");
  }
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw new TokenizerError(file, "added_tokens", "must be a list");
  added.forEach((t, i) => {
    if (!isPlainObject(t) || typeof t.content !== "string") {
      throw new TokenizerError(file, `added_tokens[${i}]`, "must have a string content and id");
    }
    see(t.id, `added_tokens[${i}]`);
  });
  return max + 1;
}

/** The id of a special token named in the tokenizer (an added token or a vocabulary entry). */
function specialId(file: string, json: Json, token: string, what: string): number {
  const added = (json.added_tokens as Json[] | undefined ?? []).find((t) => t.content === token);
  const vocab = (json.model as Json).vocab;
  const id = added?.id ?? (isPlainObject(vocab) ? vocab[token] : undefined);
  if (typeof id !== "number") {
    throw new TokenizerError(file, what, `special token ${JSON.stringify(token)} has no id`);
  }
  return id;
}

/** The leading special tokens of one post-processor (a Sequence's, in order), read from JSON. */
function templateLeading(file: string, json: Json, pp: unknown, what: string): number[] {
  if (!isPlainObject(pp)) return [];
  if (pp.type === "Sequence" && Array.isArray(pp.processors)) {
    return pp.processors.flatMap((p, i) =>
      templateLeading(file, json, p, `${what}.processors[${i}]`)
    );
  }
  if (pp.type !== "TemplateProcessing") return [];
  if (!Array.isArray(pp.single)) {
    throw new TokenizerError(file, `${what}.single`, "a TemplateProcessing needs a list");
  }
  const out: number[] = [];
  for (const piece of pp.single) {
    if (isPlainObject(piece) && isPlainObject(piece.Sequence)) return out;
    const name = isPlainObject(piece) && isPlainObject(piece.SpecialToken)
      ? piece.SpecialToken.id
      : null;
    if (typeof name !== "string") {
      throw new TokenizerError(file, `${what}.single`, "expected SpecialToken or Sequence pieces");
    }
    const entry = isPlainObject(pp.special_tokens) ? pp.special_tokens[name] : undefined;
    const ids = isPlainObject(entry) ? entry.ids : undefined;
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === "number")) {
      throw new TokenizerError(
        file,
        `${what}.special_tokens`,
        `no ids for ${JSON.stringify(name)}`,
      );
    }
    out.push(...ids);
  }
  // A template without the text itself is not one a causal model's input can follow.
  throw new TokenizerError(file, `${what}.single`, "the template has no Sequence");
}

/**
 * The special tokens Hugging Face puts before a text (see Tokenizer.leadingIds): an explicit
 * add_bos_token in tokenizer_config.json decides (LlamaTokenizerFast rebuilds its template from
 * it), else the post-processor's template.
 */
function leadingIdsOf(file: string, json: Json, config: Json): number[] {
  if (typeof config.add_bos_token === "boolean") {
    if (!config.add_bos_token) return [];
    const bos = isPlainObject(config.bos_token) ? config.bos_token.content : config.bos_token;
    if (typeof bos !== "string") {
      throw new TokenizerError(file, "bos_token", "add_bos_token is set but bos_token is not");
    }
    return [specialId(file, json, bos, "bos_token")];
  }
  return templateLeading(file, json, json.post_processor, "post_processor");
}

/** Whether a pre-tokenizer (or one of a Sequence's) is ByteLevel with add_prefix_space. */
function byteLevelPrefixSpace(pre: unknown): boolean {
  if (!isPlainObject(pre)) return false;
  if (pre.type === "Sequence" && Array.isArray(pre.pretokenizers)) {
    return pre.pretokenizers.some(byteLevelPrefixSpace);
  }
  return pre.type === "ByteLevel" && pre.add_prefix_space === true;
}

/**
 * A BPE model's merges: a list of "a b" strings or [a, b] pairs (the library otherwise fails
 * inside with "Cannot read properties of undefined"), each joining two tokens of the vocabulary
 * into a third, as Hugging Face's own BPE requires at load (the library here would instead drop
 * the text such a merge makes, encoding it to nothing).
 */
function checkMerges(file: string, model: Json): void {
  const { merges, vocab } = model;
  if (!Array.isArray(merges)) {
    throw new TokenizerError(file, "model.merges", "missing or not a list (a BPE model needs it)");
  }
  const prefix = typeof model.continuing_subword_prefix === "string"
    ? model.continuing_subword_prefix
    : "";
  const known = (t: string) => isPlainObject(vocab) && Object.hasOwn(vocab, t);
  const pairs = merges.map((m, i) => {
    const pair = typeof m === "string"
      ? (m.includes(" ") ? [m.slice(0, m.indexOf(" ")), m.slice(m.indexOf(" ") + 1)] : null)
      : Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === "string")
      ? m as string[]
      : null;
    if (pair === null) {
      throw new TokenizerError(
        file,
        `model.merges[${i}]`,
        `expected "a b" or ["a", "b"], got ${JSON.stringify(m)?.slice(0, 60)}`,
      );
    }
    return pair;
  });
  pairs.forEach(([a, b], i) => {
    const joined = a + (prefix && b.startsWith(prefix) ? b.slice(prefix.length) : b);
    const missing = [a, b, joined].find((t) => !known(t));
    if (missing !== undefined) {
      throw new TokenizerError(
        file,
        `model.merges[${i}]`,
        `${JSON.stringify(a)} + ${JSON.stringify(b)}: ${
          JSON.stringify(missing.slice(0, 40))
        } is not in the vocabulary`,
      );
    }
  });
}

/**
 * Loads a model folder's tokenizer (readTokenizerJson, with its tokenizer_config.json). When
 * `modelVocabSize` is given, a tokenizer whose ids reach past the model's embedding rows is an
 * error (a smaller tokenizer is fine: models often pad).
 */
export async function loadTokenizer(dir: string, modelVocabSize?: number): Promise<Tokenizer> {
  const config = await readTokenizerConfig(dir);
  const { file, json } = await readTokenizerJson(dir, config);
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
  if (!isPlainObject(json)) throw new TokenizerError(file, null, "tokenizer.json is not an object");
  if (!isPlainObject(json.model)) {
    throw new TokenizerError(file, "model", "missing or not an object");
  }
  const type = json.model.type;
  if (type !== undefined && !["BPE", "WordPiece", "Unigram"].includes(type as string)) {
    // The library would otherwise guess a model from the fields and tokenize differently.
    throw new TokenizerError(
      file,
      "model.type",
      `unsupported tokenizer model ${JSON.stringify(type)} (supported: BPE, WordPiece, Unigram)`,
    );
  }
  if (type === "BPE") checkMerges(file, json.model);
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
  const checkIds = (ids: readonly number[], bound: number) => {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= bound) {
        throw new TokenizerError(file, null, `token id ${id} is outside [0, ${bound})`);
      }
    }
  };
  const leadingIds = leadingIdsOf(file, json, config);
  checkIds(leadingIds, vocabSize);
  // Hugging Face's decode drops a space before punctuation unless the config says not to
  // (Llama's does); without the field, transformers' long-standing default: cleaned.
  const cleanUpSpaces = config.clean_up_tokenization_spaces !== false;
  return {
    file,
    vocabSize,
    leadingIds,
    addsPrefixSpace: byteLevelPrefixSpace(json.pre_tokenizer),
    encode(text, options = {}) {
      const ids = tok.encode(text, { add_special_tokens: false }).ids;
      return (options.addSpecialTokens ?? true) ? [...leadingIds, ...ids] : ids;
    },
    decode(ids, options = {}) {
      if (ids.length === 0) return "";
      // A model may have more rows than the tokenizer has ids (a vocabulary padded to a round
      // size); such an id, which a generation can pick, has no text and decodes to nothing, as
      // in Hugging Face's decode. Ids past the model's rows are an error.
      checkIds(ids, Math.max(vocabSize, modelVocabSize ?? 0));
      const known = ids.filter((id) => id < vocabSize);
      if (known.length === 0) return "";
      return tok.decode(known, {
        skip_special_tokens: options.skipSpecialTokens ?? false,
        clean_up_tokenization_spaces: cleanUpSpaces,
      });
    },
    tokenToId: (token) => tok.token_to_id(token),
    idToToken: (id) => tok.id_to_token(id),
  };
}
