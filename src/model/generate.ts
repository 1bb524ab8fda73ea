// Autoregressive generation with a per-layer KV cache: the prompt is run once (prefill), then
// each new token costs a forward over one position attending to the cached keys and values.
// Greedy (argmax, lowest id on ties) or top-k sampling with the metrics' sampler, so a cached
// generation draws the same tokens as src/eval/fluency.ts's one-forward-per-token loop.

import { BackendError } from "../../engine/backend.ts";
import { noGrad } from "../autograd/variable.ts";
import { sampleTopKToken } from "../eval/fluency.ts";
import { argmax, type GenerateOptions as EvalGenerateOptions } from "../eval/model.ts";
import type { Rng } from "../random/rng.ts";
import { Tensor, tidyAsync } from "../tensor/tensor.ts";
import { KVCache } from "./kvcache.ts";
import type { CausalLM } from "./lm.ts";

export interface GenerateOptions {
  /** Tokens to generate at most (fewer when eosId comes first). */
  maxNewTokens: number;
  /**
   * 0 or 1: greedy (argmax, lowest id on ties). k > 1: sample among the k most likely tokens,
   * renormalised (needs rng). With rng and topK 1 the draw is still made, as the sampler does.
   */
  topK?: number;
  /** Uniform [0, 1) source; exactly one draw per sampled token. */
  rng?: Rng;
  /** Stop after emitting this token (it is kept). */
  eosId?: number;
  /** Use the KV cache (default true); false recomputes the full forward every step. */
  cache?: boolean;
  /** Keep the next-token logits of every step in the result. */
  returnLogits?: boolean;
}

export interface GenerateResult {
  /** Prompt ids, then the generated ones. */
  ids: number[];
  /** The generated ids. */
  tokens: number[];
  /** With returnLogits: logits [V] the i-th token was chosen from. */
  logits?: Float32Array[];
}

function pick(logits: Float32Array, topK: number, rng: Rng | undefined): number {
  if (topK > 1 || (topK === 1 && rng)) {
    if (!rng) throw new BackendError(`generate: top-k sampling (topK ${topK}) needs an rng`);
    return sampleTopKToken(logits, topK, rng);
  }
  return argmax(logits);
}

/**
 * Generates up to maxNewTokens tokens after promptIds (one sequence). Throws when the prompt
 * plus the new tokens would exceed the model's context length.
 */
export async function generate(
  model: CausalLM,
  promptIds: ArrayLike<number>,
  opts: GenerateOptions,
): Promise<GenerateResult> {
  const { maxNewTokens, topK = 0, rng, eosId, returnLogits = false } = opts;
  const useCache = opts.cache ?? true;
  const ctx = model.config.contextLength;
  const v = model.config.vocabSize;
  const ids = Array.from(promptIds);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new BackendError(`generate: maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
  }
  if (!Number.isInteger(topK) || topK < 0) {
    throw new BackendError(`generate: topK must be an integer >= 0, got ${topK}`);
  }
  if (ids.length === 0) throw new BackendError("generate: the prompt is empty");
  if (ids.length + maxNewTokens > ctx) {
    throw new BackendError(
      `generate: ${ids.length} prompt + ${maxNewTokens} new tokens exceed the context length ${ctx}`,
    );
  }
  const result: GenerateResult = { ids, tokens: [], logits: returnLogits ? [] : undefined };
  if (maxNewTokens === 0) return result;
  const be = model.backend;
  const cache = useCache ? new KVCache(be, model.config, 1, ids.length + maxNewTokens) : null;
  try {
    // The ids the next forward reads: the whole prompt first, then one token at a time.
    let feed = ids.slice();
    for (let step = 0; step < maxNewTokens; step++) {
      const last = await tidyAsync(async () => {
        const x = Tensor.fromArray(be, feed, [1, feed.length]);
        const logits = noGrad(() => model.forward(x, undefined, cache ?? undefined));
        return await be.read(logits.value.buffer, (feed.length - 1) * v, v);
      });
      const next = pick(last, topK, rng);
      result.logits?.push(last);
      ids.push(next);
      result.tokens.push(next);
      if (eosId !== undefined && next === eosId) break;
      feed = cache ? [next] : ids.slice();
    }
  } finally {
    cache?.free();
  }
  return result;
}

/**
 * The metrics' generate hook (EvalModel.generate) for a model: KV-cached top-k sampling up to
 * maxLength tokens in all, returning the whole sequence.
 */
export function evalGenerate(
  model: CausalLM,
): (ids: number[], opts: EvalGenerateOptions) => Promise<number[]> {
  return async (ids, o) =>
    (await generate(model, ids, {
      maxNewTokens: Math.max(0, Math.min(o.maxLength, model.config.contextLength) - ids.length),
      topK: o.topK,
      rng: o.rng,
      eosId: o.eosId,
    })).ids;
}
