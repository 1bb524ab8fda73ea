// Adapts a CausalLM and its tokenizer to the metrics' EvalModel interface: argmax predictions
// and next-token logits from no-grad forward passes.

import { noGrad } from "../autograd/variable.ts";
import type { EvalModel } from "../eval/model.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";
import { argmaxRows } from "../tensor/ops.ts";
import { Tensor, tidyAsync } from "../tensor/tensor.ts";

export function evalModel(model: CausalLM, tokenizer: Tokenizer): EvalModel {
  const be = model.backend;
  const ctx = model.config.contextLength;
  const clip = (ids: number[]) => (ids.length > ctx ? ids.slice(ids.length - ctx) : ids);
  return {
    encode: (text) => tokenizer.encode(text),
    decode: (ids) => tokenizer.decode(ids),
    vocabSize: model.config.vocabSize,
    argmaxes: (ids) =>
      tidyAsync(async () => {
        const logits = noGrad(() => model.forward(Tensor.fromArray(be, ids, [1, ids.length])));
        return Array.from(await argmaxRows(logits.value).toArray());
      }),
    nextLogits: (ids) =>
      tidyAsync(async () => {
        const x = clip(ids);
        const logits = noGrad(() => model.forward(Tensor.fromArray(be, x, [1, x.length])));
        const v = model.config.vocabSize;
        return await be.read(logits.value.buffer, (x.length - 1) * v, v);
      }),
  };
}
