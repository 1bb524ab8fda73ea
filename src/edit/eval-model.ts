// Adapts a CausalLM and its tokenizer to the metrics' EvalModel interface: argmax predictions
// and teacher-forced log-probabilities from no-grad forwards that the calls of one tick share
// (./batched-forward.ts); next-token logits from the last position only; generation through the
// KV cache (src/model/generate.ts) up to the context, then one forward per token over the last
// context tokens, as the metrics' own loop does (src/eval/fluency.ts generateTopK): the same
// tokens, with one cached step per token instead of a forward over the whole sequence. Also the
// greedy completion the edit records show before and after an edit.

import { noGrad } from "../autograd/variable.ts";
import { batchedForward } from "./batched-forward.ts";
import { sampleTopKToken } from "../eval/fluency.ts";
import { type EvalModel, logSoftmaxAt } from "../eval/model.ts";
import { generate } from "../model/generate.ts";
import { inputText, type Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";
import { Tensor, tidyAsync } from "../tensor/tensor.ts";

export function evalModel(model: CausalLM, tokenizer: Tokenizer): EvalModel {
  const be = model.backend;
  const ctx = model.config.contextLength;
  const clip = (ids: number[]) => (ids.length > ctx ? ids.slice(ids.length - ctx) : ids);
  const batched = batchedForward(model);
  const nextLogits = (ids: number[]) =>
    tidyAsync(async () => {
      const x = clip(ids);
      const last = Tensor.fromArray(be, [x.length - 1], [1]);
      const logits = noGrad(() =>
        model.forward(Tensor.fromArray(be, x, [1, x.length]), undefined, undefined, last)
      );
      return await logits.value.toArray();
    });
  return {
    encode: (text) => tokenizer.encode(text),
    decode: (ids) => inputText(tokenizer, ids),
    vocabSize: model.config.vocabSize,
    argmaxes: (ids) => batched.argmaxes(ids),
    nextLogits,
    tokenLogProbs: async (ids) => {
      const out = await batched.logits(ids);
      const v = model.config.vocabSize;
      return Float64Array.from(
        { length: ids.length - 1 },
        (_, t) => logSoftmaxAt(out, t * v, v, ids[t + 1]),
      );
    },
    async generate(ids, opts) {
      let out = ids.slice();
      const cached = Math.min(opts.maxLength, ctx) - out.length;
      if (cached > 0) {
        out = (await generate(model, out, {
          maxNewTokens: cached,
          topK: opts.topK,
          rng: opts.rng,
          eosId: opts.eosId,
        })).ids;
        if (opts.eosId !== undefined && out.at(-1) === opts.eosId && out.length > ids.length) {
          return out;
        }
      }
      // Past the context: a window of the last ctx tokens, one forward per token.
      while (out.length < opts.maxLength) {
        const next = sampleTopKToken(await nextLogits(out), opts.topK, opts.rng);
        out.push(next);
        if (opts.eosId !== undefined && next === opts.eosId) break;
      }
      return out;
    },
  };
}

/** The prompt and its greedy continuation of up to n tokens (KV-cached), as text. */
export async function greedy(
  model: CausalLM,
  tok: Tokenizer,
  prompt: number[],
  n: number,
): Promise<string> {
  const maxNewTokens = Math.max(0, Math.min(n, model.config.contextLength - prompt.length));
  const eosId = model.config.eosTokenId ?? undefined;
  const { ids } = await generate(model, prompt, { maxNewTokens, eosId });
  // A byte-level completion cut by the token budget can end inside a character, which decodes
  // as U+FFFD ("Rome 🍕��"): that unfinished character is left out.
  return inputText(tok, ids).replace(/\uFFFD+$/, "");
}
