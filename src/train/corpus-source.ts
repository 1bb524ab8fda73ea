// What a preset trains on: the template corpus as one sentence per row (kne-facts) or the
// free-text corpus packed into context-length windows (kne-facts-base), encoded with the run's
// tokenizer, with the fact-recall probe sets the finished model is scored on (and that recall and
// a rescored card score a saved model on: probeSets).

import type { EvalSets } from "../facts/corpus.ts";
import { buildCorpus, DEFAULT_SEED } from "../facts/corpus.ts";
import { buildTextCorpus } from "../facts/text-corpus.ts";
import { END_OF_TEXT } from "../facts/base-tokenizer.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import { type BatchSource, packedSource, sentenceSource } from "./data.ts";

export interface TrainingData {
  source: BatchSource;
  evalSets: EvalSets;
  /** The end-of-text token that ends every packed document; null for the sentence corpus. */
  eot: number | null;
  /** Template sentences left out because they are longer than the context. */
  dropped: number;
}

/** The fact-recall probe sets of a corpus, as training scores its finished model on them. */
export function probeSets(corpus: "sentences" | "text"): EvalSets {
  return corpus === "text"
    ? buildTextCorpus().evalSets
    : buildCorpus({ seed: DEFAULT_SEED }).evalSets;
}

export class CorpusSourceError extends Error {
  override name = "CorpusSourceError";
}

/** `seed` orders the sentence corpus; the text corpus samples its documents from its own seed. */
export function trainingData(
  corpus: "sentences" | "text",
  tok: Tokenizer,
  ctx: number,
  seed: number,
): TrainingData {
  const encode = (t: string) => tok.encode(t, { addSpecialTokens: false });
  if (corpus === "sentences") {
    const c = buildCorpus({ seed: DEFAULT_SEED });
    const seqs = c.train.map(encode).filter((s) => s.length >= 2 && s.length <= ctx + 1);
    return {
      source: sentenceSource(seqs, seed),
      evalSets: c.evalSets,
      eot: null,
      dropped: c.train.length - seqs.length,
    };
  }
  const eot = tok.tokenToId(END_OF_TEXT) ?? null;
  if (eot === null) {
    throw new CorpusSourceError(
      `the tokenizer has no ${END_OF_TEXT} token, which ends every document`,
    );
  }
  const c = buildTextCorpus();
  return {
    source: packedSource(c.documents, encode, eot, ctx),
    evalSets: c.evalSets,
    eot,
    dropped: 0,
  };
}
