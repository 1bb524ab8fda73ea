// Token ids of text the tokenizer knows: the ids of its unknown-word tokens, and a text's ids or
// null when it holds one of them (or is empty). Request checks, covariance texts and context
// prefixes all refuse unknown words the same way.

import type { EncodeOptions, Tokenizer } from "../io/tokenizer.ts";

const UNKNOWN_TOKENS = ["[UNK]", "<unk>", "<|unk|>"];

/** Ids of the tokenizer's unknown-word tokens. */
export function unknownIds(tok: Tokenizer): Set<number> {
  const ids = new Set<number>();
  for (const t of UNKNOWN_TOKENS) {
    const id = tok.tokenToId(t);
    if (id !== undefined) ids.add(id);
  }
  return ids;
}

/**
 * Token ids of text (after the leading special tokens unless `options` says otherwise), or null
 * when the text encodes to nothing or holds unknown words.
 */
export function encodeKnown(
  tok: Tokenizer,
  text: string,
  unk = unknownIds(tok),
  options?: EncodeOptions,
): number[] | null {
  const ids = tok.encode(text, options);
  const textIds = ids.length - (options?.addSpecialTokens === false ? 0 : tok.leadingIds.length);
  return textIds <= 0 || ids.some((i) => unk.has(i)) ? null : ids;
}
