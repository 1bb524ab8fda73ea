// A byte-level BPE (GPT-2's scheme) as a Hugging Face tokenizer.json object, from its vocabulary,
// merges and special tokens: what the project's BPE trainer writes (scripts/make-tokenizer.ts), and
// what a GPT-2 checkpoint that ships only the slow tokenizer's files (vocab.json, merges.txt) is
// read as, the tokenizer.json transformers' GPT2TokenizerFast builds from them.

import { TokenizerError } from "./errors.ts";
import { addedToken } from "./added-token.ts";

export interface ByteLevelBpe {
  /** Token string -> id. */
  vocab: ReadonlyMap<string, number>;
  /** Merges by rank. */
  merges: readonly (readonly [string, string])[];
  /** Tokens matched whole before BPE (added tokens), each in `vocab`. */
  specialTokens: readonly string[];
}

/**
 * The tokenizer.json object (GPT-2's layout). With `prefixSpace` its pre-tokenizer puts a space
 * before a text that does not begin with one (ByteLevel's add_prefix_space, SentencePiece's dummy
 * prefix), so a word at the start of a text is cut as it is in running text (" France", not "F"
 * "rance").
 */
export function byteLevelBpeJson(
  bpe: ByteLevelBpe,
  { prefixSpace = false } = {},
): Record<string, unknown> {
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: bpe.specialTokens.map((content) => addedToken(bpe.vocab.get(content), content)),
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", ...byteLevel, add_prefix_space: prefixSpace },
    post_processor: { type: "ByteLevel", ...byteLevel, trim_offsets: false },
    decoder: { type: "ByteLevel", ...byteLevel },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(bpe.vocab),
      merges: bpe.merges.map(([a, b]) => [a, b]),
    },
  };
}

/**
 * merges.txt's pairs by rank: one "a b" per line, a "#version" first line and blank lines
 * skipped (byte-level symbols hold no space, so a line splits at its one space).
 */
export function parseMergesText(file: string, text: string): [string, string][] {
  const merges: [string, string][] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line === "" || (i === 0 && line.startsWith("#version"))) return;
    const parts = line.split(" ");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      throw new TokenizerError(
        file,
        `line ${i + 1}`,
        `expected two symbols and one space, got ${JSON.stringify(line.slice(0, 60))}`,
      );
    }
    merges.push([parts[0], parts[1]]);
  });
  return merges;
}
