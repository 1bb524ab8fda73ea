// Hand-made models for the metric tests: a word-level tokenizer over a fixed vocabulary and a
// next-token rule, turned into an EvalModel through evalModelFromLogits (so that adapter is
// exercised too).

import { type EvalModel, evalModelFromLogits, type GenerateOptions } from "../../src/eval/model.ts";

/** A next-token rule: either the argmax token (one-hot logits) or explicit logits. */
export type NextRule = (prefix: number[]) => number | ArrayLike<number>;

export interface WordModel extends EvalModel {
  vocab: string[];
  /** Forward passes run so far. */
  calls: number;
}

/**
 * Word-level model: encode splits on spaces (unknown words throw), ids index vocab; with bos,
 * id 0 ("<s>") is prepended by encode and dropped by decode.
 */
export function wordModel(
  vocab: string[],
  rule: NextRule,
  opts: { bos?: boolean; generate?: (ids: number[], o: GenerateOptions) => Promise<number[]> } = {},
): WordModel {
  const index = new Map(vocab.map((w, i) => [w, i]));
  const V = vocab.length;
  const state = { calls: 0 };
  const base = evalModelFromLogits({
    vocabSize: V,
    encode(text) {
      const ids = text.split(" ").filter((w) => w.length > 0).map((w) => {
        const id = index.get(w);
        if (id === undefined) throw new Error(`unknown word ${JSON.stringify(w)}`);
        return id;
      });
      return opts.bos ? [0, ...ids] : ids;
    },
    decode(ids) {
      return ids.filter((id, i) => !(opts.bos && i === 0 && id === 0)).map((id) => vocab[id]).join(
        " ",
      );
    },
    logits(ids) {
      state.calls++;
      const out = new Float32Array(ids.length * V);
      for (let t = 0; t < ids.length; t++) {
        const r = rule(ids.slice(0, t + 1));
        if (typeof r === "number") out[t * V + r] = 10;
        else out.set(Array.from(r), t * V);
      }
      return Promise.resolve(out);
    },
    generate: opts.generate,
  });
  const m = base as WordModel;
  m.vocab = vocab;
  Object.defineProperty(m, "calls", { get: () => state.calls, enumerable: true });
  return m;
}

/** A bigram lookup table: the argmax after a prefix depends only on its last token. */
export function bigramRule(table: Record<number, number>, fallback = 0): NextRule {
  return (prefix) => table[prefix[prefix.length - 1]] ?? fallback;
}
