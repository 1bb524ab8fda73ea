// A word-level tokenizer for the fact world, written as a Hugging Face tokenizer.json that
// npm:@huggingface/tokenizers@0.2.0 (and the Rust/Python `tokenizers`) load.
//
// Exact pre-tokenization (what the ids of a text are):
// 1. No normalizer (case and accents are kept).
// 2. Pre-tokenizer `WhitespaceSplit`: the text is cut at runs of whitespace (regex \S+).
// 3. Model `WordPiece` (continuing prefix "##", unk [UNK]): each whitespace-separated word is cut
//    greedily into the longest vocabulary entries from its left end; a piece that is not the
//    word's first is looked up with the "##" prefix. The vocabulary holds, for every word of the
//    corpus, its PIECES: maximal runs of letters/marks/digits and single other characters
//    (punctuation, symbols); the first piece as is, the others as "##piece". So
//      "France's" -> "France" "##'" "##s",   "Guinea-Bissau" -> "Guinea" "##-" "##Bissau",
//      "Paris ." -> "Paris" "."   (the sentence-final " ." is its own token).
//    Because no vocabulary entry mixes word characters and punctuation, the greedy match always
//    finds exactly these pieces, and a subject has the same id whether or not "'s" follows.
//    Unseen words still encode through the single characters (printable ASCII and every character
//    of the corpus, plain and "##"); a word with a character outside them becomes [UNK].
// 4. Decoder `WordPiece` with cleanup off: pieces of one word are glued ("##" dropped), words are
//    joined with one space. Hence decode(encode(t)) === t for every text whose words are separated
//    by single spaces and that has no leading/trailing space (all corpus texts). Load with
//    `clean_up_tokenization_spaces: false` (tokenizer_config.json / loadTokenizer do this), or
//    tokenizers.js applies its BERT clean-up (" ." -> ".") after decoding.
// 5. No post-processor: encode() adds no special tokens. Callers prepend [BOS] themselves.
//
// Prompt/answer alignment: encode(prompt + " " + answer) = encode(prompt) ++ encode(answer),
// because the space is a word boundary. The answer tokens of a probe are encode(answer)
// (== the tokens of " " + answer appended to the prompt); `encodeProbe` returns both parts.

import { Tokenizer } from "./deps.ts";
import { addedToken } from "../io/added-token.ts";
import type { Corpus } from "./corpus.ts";

export const SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"] as const;
export const PAD_ID = 0;
export const UNK_ID = 1;
export const BOS_ID = 2;
export const EOS_ID = 3;
export const PREFIX = "##";

const PIECE = /[\p{L}\p{M}\p{N}]+|[^\p{L}\p{M}\p{N}]/gu;

/** The vocabulary pieces of one whitespace-free word ("France's" -> France, ##', ##s). */
export function wordPieces(word: string): string[] {
  const parts = word.match(PIECE) ?? [];
  return parts.map((p, i) => (i === 0 ? p : PREFIX + p));
}

/** The tokens a text encodes to when all its pieces are in the vocabulary. */
export function pieceTokens(text: string): string[] {
  return (text.match(/\S+/g) ?? []).flatMap(wordPieces);
}

export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: {
    id: number;
    content: string;
    single_word: boolean;
    lstrip: boolean;
    rstrip: boolean;
    normalized: boolean;
    special: boolean;
  }[];
  normalizer: null;
  pre_tokenizer: { type: "WhitespaceSplit" };
  post_processor: null;
  decoder: { type: "WordPiece"; prefix: string; cleanup: boolean };
  model: {
    type: "WordPiece";
    unk_token: string;
    continuing_subword_prefix: string;
    max_input_chars_per_word: number;
    vocab: Record<string, number>;
  };
}

/** tokenizer_config.json contents to load the tokenizer with. */
export const TOKENIZER_CONFIG = {
  clean_up_tokenization_spaces: false,
  model_max_length: 64,
  pad_token: "[PAD]",
  unk_token: "[UNK]",
  bos_token: "[BOS]",
  eos_token: "[EOS]",
  tokenizer_class: "PreTrainedTokenizerFast",
};

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Build tokenizer.json from texts. Ids: the 4 special tokens, then single characters (plain and
 * "##", sorted), then the multi-character pieces by frequency (descending, ties by string).
 */
export function buildTokenizerJson(texts: Iterable<string>): TokenizerJson {
  const counts = new Map<string, number>();
  const chars = new Set<string>();
  for (let c = 33; c < 127; c++) chars.add(String.fromCharCode(c));
  for (const text of texts) {
    for (const tok of pieceTokens(text)) {
      counts.set(tok, (counts.get(tok) ?? 0) + 1);
      for (const ch of tok.startsWith(PREFIX) ? tok.slice(PREFIX.length) : tok) chars.add(ch);
    }
  }
  const vocab: Record<string, number> = {};
  let next = 0;
  const add = (t: string) => {
    if (!(t in vocab)) vocab[t] = next++;
  };
  for (const s of SPECIAL_TOKENS) add(s);
  const sortedChars = [...chars].sort(byString);
  for (const ch of sortedChars) add(ch);
  for (const ch of sortedChars) add(PREFIX + ch);
  const words = [...counts.entries()].sort((a, b) => b[1] - a[1] || byString(a[0], b[0]));
  for (const [w] of words) add(w);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => addedToken(id, content)),
    normalizer: null,
    pre_tokenizer: { type: "WhitespaceSplit" },
    post_processor: null,
    decoder: { type: "WordPiece", prefix: PREFIX, cleanup: false },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: PREFIX,
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

/** Every text the tokenizer must cover for a corpus: training sentences and all probes. */
export function corpusTexts(corpus: Corpus): string[] {
  const out = [...corpus.train];
  for (const set of Object.values(corpus.evalSets)) {
    for (const p of set) out.push(p.prompt, p.answer);
  }
  for (const f of corpus.facts) out.push(f.subject, f.answer);
  return out;
}

/** A tokenizers.js Tokenizer from a tokenizer.json object, with clean-up off. */
export function makeTokenizer(json: TokenizerJson | object): Tokenizer {
  return new Tokenizer(json, TOKENIZER_CONFIG);
}

/**
 * Write tokenizer.json to `path` and tokenizer_config.json next to it. `corpus` is a Corpus
 * (all its texts) or any list of texts. Returns the json.
 */
export function writeTokenizer(
  path: string,
  corpus: Corpus | Iterable<string>,
  extraTexts: Iterable<string> = [],
): TokenizerJson {
  const texts = isCorpus(corpus) ? corpusTexts(corpus) : [...corpus];
  const json = buildTokenizerJson([...texts, ...extraTexts]);
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash) : ".";
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(path, JSON.stringify(json, null, 2) + "\n");
  Deno.writeTextFileSync(
    `${dir}/tokenizer_config.json`,
    JSON.stringify(TOKENIZER_CONFIG, null, 2) + "\n",
  );
  return json;
}

/** The committed tokenizer of the fact world (written by `deno task make-requests`). */
export const DEFAULT_TOKENIZER_PATH =
  new URL("../../data/tokenizer/tokenizer.json", import.meta.url).pathname;

/** Load a tokenizer.json written by writeTokenizer (default: the committed one). */
export function loadTokenizer(path: string = DEFAULT_TOKENIZER_PATH): Tokenizer {
  return makeTokenizer(JSON.parse(Deno.readTextFileSync(path)));
}

function isCorpus(x: Corpus | Iterable<string>): x is Corpus {
  return typeof x === "object" && x !== null && "train" in x && "evalSets" in x;
}

/** Token ids of a text (no special tokens). */
export function encode(tok: Tokenizer, text: string): number[] {
  return tok.encode(text, { add_special_tokens: false }).ids;
}

/** Text of token ids (special tokens dropped). */
export function decode(tok: Tokenizer, ids: number[]): string {
  if (ids.length === 0) return "";
  return tok.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
}

/**
 * The ids of a prompt and of its answer, such that prompt ++ answer are the ids of
 * `prompt + " " + answer` (no [BOS]; prepend BOS_ID when the model expects it).
 */
export function encodeProbe(
  tok: Tokenizer,
  prompt: string,
  answer: string,
): { prompt: number[]; answer: number[] } {
  return { prompt: encode(tok, prompt), answer: encode(tok, answer) };
}
