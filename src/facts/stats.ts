// Corpus statistics (sentences, tokens, vocabulary, entities per relation, lengths).

import type { Tokenizer } from "./deps.ts";
import type { Corpus } from "./corpus.ts";
import { encode } from "./tokenizer.ts";

export interface CorpusStats {
  sentences: number;
  tokens: number;
  vocabSize: number;
  /** Distinct tokens that occur in the training sentences. */
  tokensUsed: number;
  /** Distinct whitespace-separated words of the training sentences. */
  words: number;
  maxSentenceTokens: number;
  meanSentenceTokens: number;
  maxProbeTokens: number;
  factsPerRelation: Record<string, number>;
  evalSets: Record<string, number>;
}

export function corpusStats(corpus: Corpus, tok: Tokenizer): CorpusStats {
  let tokens = 0;
  let max = 0;
  const used = new Set<number>();
  const words = new Set<string>();
  for (const s of corpus.train) {
    const ids = encode(tok, s);
    tokens += ids.length;
    max = Math.max(max, ids.length);
    for (const id of ids) used.add(id);
    for (const w of s.split(" ")) words.add(w);
  }
  let maxProbe = 0;
  for (const set of Object.values(corpus.evalSets)) {
    for (const p of set) {
      maxProbe = Math.max(maxProbe, encode(tok, `${p.prompt} ${p.answer} .`).length);
    }
  }
  const factsPerRelation: Record<string, number> = {};
  for (const f of corpus.facts) {
    factsPerRelation[f.relation] = (factsPerRelation[f.relation] ?? 0) + 1;
  }
  return {
    sentences: corpus.train.length,
    tokens,
    vocabSize: tok.get_vocab(true).size,
    tokensUsed: used.size,
    words: words.size,
    maxSentenceTokens: max,
    meanSentenceTokens: Math.round((tokens / corpus.train.length) * 100) / 100,
    maxProbeTokens: maxProbe,
    factsPerRelation,
    evalSets: Object.fromEntries(Object.entries(corpus.evalSets).map(([k, v]) => [k, v.length])),
  };
}
