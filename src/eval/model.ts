// The small model interface the metrics run against, and helpers to build one from plain
// logits. Keeping the metrics behind this interface makes them testable on hand-made logits and
// independent of the engine: the lead adapts a real model (tokenizer + forward pass) to it.

import type { Rng } from "../random/rng.ts";

/** Options of one sampled generation (see src/eval/fluency.ts for the defaults). */
export interface GenerateOptions {
  /** Stop when the whole sequence (prompt included) has this many tokens (EasyEdit max_out_len). */
  maxLength: number;
  /** Sample among the k most likely next tokens, renormalised. */
  topK: number;
  /** Uniform [0, 1) source; the only randomness used. */
  rng: Rng;
  /** Stop after emitting this token (kept in the output), if given. */
  eosId?: number;
}

export interface EvalModel {
  /** Token ids of a text (whatever BOS convention the model uses, applied consistently). */
  encode(text: string): number[];
  /** The text of ids that `encode` made (and a generation continued), as it was typed. */
  decode(ids: number[]): string;
  vocabSize: number;
  /**
   * The argmax token at every position of ids: result[i] is the model's most likely token to
   * follow ids[0..i]. Length must equal ids.length. Ties resolve to the lowest token id (see
   * {@link argmax}), as torch.argmax does.
   */
  argmaxes(ids: number[]): Promise<number[]>;
  /** Logits (length vocabSize) for the token following ids. */
  nextLogits(ids: number[]): Promise<Float32Array>;
  /**
   * Teacher-forced log-probabilities: result[i] = log P(ids[i + 1] | ids[0..i]), natural log,
   * length ids.length - 1 (one forward pass; the CounterFact scores compare sums of these).
   */
  tokenLogProbs(ids: number[]): Promise<Float64Array>;
  /**
   * Optional faster sampler (e.g. KV-cached). Must behave like {@link sampleTopK}: return the
   * full sequence (prompt ids first, then the sampled ids), draw exactly one rng() per sampled
   * token, and stop at maxLength or after eosId.
   */
  generate?(ids: number[], opts: GenerateOptions): Promise<number[]>;
}

/** A tokenisation the metrics cannot score (e.g. the prompt's tokens are not a prefix). */
export class TokenizationError extends Error {
  override name = "TokenizationError";
}

/**
 * Index of the largest value; ties resolve to the lowest index (torch.argmax semantics).
 * Throws on an empty array or a NaN (a NaN logit means a broken model, not a prediction).
 */
export function argmax(
  values: ArrayLike<number>,
  offset = 0,
  length = values.length - offset,
): number {
  if (length <= 0) throw new RangeError("argmax of an empty vector");
  let best = offset, bestValue = values[offset];
  for (let i = offset; i < offset + length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) throw new RangeError(`argmax: NaN at index ${i - offset}`);
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  if (Number.isNaN(bestValue)) throw new RangeError("argmax: NaN at index 0");
  return best - offset;
}

/** What {@link evalModelFromLogits} needs: a tokenizer and a full-sequence forward pass. */
export interface LogitsModel {
  encode(text: string): number[];
  decode(ids: number[]): string;
  vocabSize: number;
  /** Row-major [ids.length, vocabSize] logits of one forward pass over ids. */
  logits(ids: number[]): Promise<Float32Array>;
  generate?(ids: number[], opts: GenerateOptions): Promise<number[]>;
}

/** log softmax(row)[token] of one row of logits, in float64. */
export function logSoftmaxAt(logits: ArrayLike<number>, offset: number, v: number, token: number) {
  let max = -Infinity;
  for (let j = 0; j < v; j++) max = Math.max(max, logits[offset + j]);
  let sum = 0;
  for (let j = 0; j < v; j++) sum += Math.exp(logits[offset + j] - max);
  return logits[offset + token] - max - Math.log(sum);
}

/** Adapt a forward pass returning all logits to an EvalModel (argmax per position, last row). */
export function evalModelFromLogits(m: LogitsModel): EvalModel {
  const run = async (ids: number[]) => {
    if (ids.length === 0) throw new RangeError("forward pass over an empty sequence");
    const out = await m.logits(ids);
    if (out.length !== ids.length * m.vocabSize) {
      throw new RangeError(
        `logits: expected ${ids.length}x${m.vocabSize} = ${
          ids.length * m.vocabSize
        } values, got ${out.length}`,
      );
    }
    return out;
  };
  const model: EvalModel = {
    encode: (t) => m.encode(t),
    decode: (ids) => m.decode(ids),
    vocabSize: m.vocabSize,
    async argmaxes(ids) {
      const out = await run(ids);
      return ids.map((_, t) => argmax(out, t * m.vocabSize, m.vocabSize));
    },
    async nextLogits(ids) {
      const out = await run(ids);
      return out.slice((ids.length - 1) * m.vocabSize, ids.length * m.vocabSize);
    },
    async tokenLogProbs(ids) {
      const out = await run(ids);
      return Float64Array.from(
        { length: ids.length - 1 },
        (_, t) => logSoftmaxAt(out, t * m.vocabSize, m.vocabSize, ids[t + 1]),
      );
    },
  };
  if (m.generate) model.generate = (ids, opts) => m.generate!(ids, opts);
  return model;
}
