// Fluency: weighted n-gram entropy of a sampled continuation, as EasyEdit computes it
// (evaluate_utils.py: test_generation_quality -> generate_fast + n_gram_entropy).
//
// EasyEdit's definition, which this file matches:
//   - generate_fast samples with top-k 5 (softmax over the vocabulary, keep the k largest
//     probabilities, renormalise, draw one) until the WHOLE sequence, prompt included, has
//     max_out_len = 100 tokens; the text scored is the decoded whole sequence (prompt included),
//     NFKD-normalised, "\n\n" replaced by " ", "<|endoftext|>" removed.
//   - compute_n_gram_entropy(text): tokens = nltk.word_tokenize(text); for n in [2, 3]:
//     p = count(ngram) / total ngrams, H_n = -sum p log2 p; result = mean([2/3 H_2, 4/3 H_3])
//     (arithmetic mean of the WEIGHTED entropies, i.e. (2/3 H_2 + 4/3 H_3) / 2).
//   - Tables show it x100 (mean over records, then x100).
// Words come from ./words.ts, a port of nltk.word_tokenize (with an untrained Punkt sentence
// splitter; see there). A text with no n-grams of some order has H_n = 0, as numpy's sum over
// an empty array gives.

import type { EvalModel, GenerateOptions } from "./model.ts";
import { mulberry32, type Rng } from "../random/rng.ts";
import { wordTokenize } from "./words.ts";

export { wordTokenize };

/** Shannon entropy (bits) of the n-gram distribution of tokens; 0 when there is no n-gram. */
export function ngramEntropy(tokens: string[], n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n-gram order must be >= 1, got ${n}`);
  const total = tokens.length - n + 1;
  if (total <= 0) return 0;
  const counts = new Map<string, number>();
  for (let i = 0; i < total; i++) {
    const key = tokens.slice(i, i + n).join("\u0000");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let h = 0;
  for (const c of counts.values()) {
    const p = c / total;
    h -= p * Math.log2(p);
  }
  return h;
}

/** EasyEdit's n-gram orders and weights: mean(2/3 H_2, 4/3 H_3). */
export const NGRAM_ORDERS = [2, 3] as const;
export const NGRAM_WEIGHTS = [2 / 3, 4 / 3] as const;

/** The text EasyEdit scores: NFKD, "\n\n" -> " ", "<|endoftext|>" removed. */
export function cleanGeneratedText(text: string): string {
  return text.normalize("NFKD").replaceAll("\n\n", " ").replaceAll("<|endoftext|>", "");
}

/** compute_n_gram_entropy of one text: mean over n in {2, 3} of weight_n * H_n (bits). */
export function nGramEntropyScore(text: string): number {
  const tokens = wordTokenize(text);
  let s = 0;
  for (let i = 0; i < NGRAM_ORDERS.length; i++) {
    s += NGRAM_WEIGHTS[i] * ngramEntropy(tokens, NGRAM_ORDERS[i]);
  }
  return s / NGRAM_ORDERS.length;
}

/**
 * Draw one token from the top-k of logits: softmax restricted to the k largest logits (same as
 * softmax over the vocabulary, keep k, renormalise). Among equal logits the lower id ranks first.
 * Uses exactly one rng() draw.
 */
export function sampleTopKToken(logits: ArrayLike<number>, k: number, rng: Rng): number {
  const V = logits.length;
  if (V === 0) throw new RangeError("sampling from empty logits");
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`top-k must be a positive integer, got ${k}`);
  }
  const kk = Math.min(k, V);
  // Top-k by insertion into a small sorted list (k is ~5): descending value, ascending id.
  const idx: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < V; i++) {
    const v = logits[i];
    if (Number.isNaN(v)) throw new RangeError(`NaN logit at token ${i}`);
    if (idx.length === kk && !(v > val[kk - 1])) continue;
    let j = idx.length === kk ? kk - 1 : idx.length;
    while (j > 0 && v > val[j - 1]) {
      idx[j] = idx[j - 1];
      val[j] = val[j - 1];
      j--;
    }
    idx[j] = i;
    val[j] = v;
  }
  const max = val[0];
  if (max === -Infinity) throw new RangeError("all logits are -Infinity");
  if (max === Infinity) return idx[0];
  const w = val.map((v) => Math.exp(v - max));
  const sum = w.reduce((a, b) => a + b, 0);
  const r = rng() * sum;
  let acc = 0;
  for (let j = 0; j < w.length; j++) {
    acc += w[j];
    if (r < acc) return idx[j];
  }
  // Rounding (r just below sum): the last token with non-zero weight.
  for (let j = w.length - 1; j >= 0; j--) if (w[j] > 0) return idx[j];
  return idx[0];
}

/**
 * Top-k sampling with nextLogits, one forward pass per token (or the model's own generate hook
 * when it has one). Returns the whole sequence: prompt ids, then the sampled ids.
 */
export async function generateTopK(
  model: EvalModel,
  promptIds: number[],
  opts: GenerateOptions,
): Promise<number[]> {
  if (model.generate) return await model.generate(promptIds.slice(), opts);
  const ids = promptIds.slice();
  while (ids.length < opts.maxLength) {
    const logits = await model.nextLogits(ids);
    const next = sampleTopKToken(logits, opts.topK, opts.rng);
    ids.push(next);
    if (opts.eosId !== undefined && next === opts.eosId) break;
  }
  return ids;
}

export interface FluencyOptions {
  /** Total sequence length, prompt included (EasyEdit max_out_len). Default 100. */
  maxLength?: number;
  /** Default 5. */
  topK?: number;
  /** Random source; default mulberry32(seed). */
  rng?: Rng;
  /** Seed of the default rng. Default 0. */
  seed?: number;
  eosId?: number;
  /** Score the prompt's words too, as EasyEdit does (default true). */
  includePrompt?: boolean;
}

export interface FluencyResult {
  /** Weighted n-gram entropy in bits (tables show it x100). */
  entropy: number;
  /** The scored text (after cleaning). */
  text: string;
  /** The whole generated sequence, prompt ids first. */
  ids: number[];
}

/** Sample from the prompt and score the text's n-gram entropy (EasyEdit fluency). */
export async function fluency(
  model: EvalModel,
  prompt: string,
  opts: FluencyOptions = {},
): Promise<FluencyResult> {
  const promptIds = model.encode(prompt);
  const ids = await generateTopK(model, promptIds, {
    maxLength: opts.maxLength ?? 100,
    topK: opts.topK ?? 5,
    rng: opts.rng ?? mulberry32(opts.seed ?? 0),
    eosId: opts.eosId,
  });
  const includePrompt = opts.includePrompt ?? true;
  const text = cleanGeneratedText(model.decode(includePrompt ? ids : ids.slice(promptIds.length)));
  return { entropy: nGramEntropyScore(text), text, ids };
}
