// forward(ids, ..., rows): logits of only the positions a loss reads. They equal those rows of the
// full logits, and a loss over them gives every parameter the same gradient as the same loss
// over the full logits (the rows gathered after the last layer's attention, scatter-added back),
// on GPT-2, Llama, GPT-J (whose FFN reads the layer's normed input at the rows read), Gemma 2
// (post-norms and a soft-capped head at the rows read) and Gemma 3, and both backends, for random
// batches and row subsets, with the layers recorded or checkpointed (the last one then recomputes
// a block that ends with fewer rows).

import fc from "fast-check";
import * as A from "../../src/autograd/ops.ts";
import { backward } from "../../src/autograd/variable.ts";
import { disposeModel } from "../../src/model/build.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { BLOCK_FIXTURES, fixtureDir } from "../helpers/families.ts";
import { assertClose } from "../helpers/reference.ts";

for (const name of BLOCK_FIXTURES) {
  const dir = fixtureDir(name);
  testBackends(
    `${name}: logits and gradients through selected rows match the full forward`,
    async (be) => {
      const { model } = await loadModel(dir, be);
      const V = model.config.vocabSize;
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 3 }),
            fc.integer({ min: 1, max: Math.min(9, model.config.contextLength) }),
            fc.integer({ min: 0, max: 2 ** 31 - 1 }),
            fc.boolean(),
            async (batch, t, seed, checkpointed) => {
              model.checkpointLayers = checkpointed;
              let s = seed || 1;
              const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
              const ids = Array.from({ length: batch * t }, () => Math.floor(rnd() * V));
              const rows = Array.from({ length: batch * t }, (_, i) => i).filter(() => rnd() < 0.5);
              if (rows.length === 0) rows.push(batch * t - 1);
              const targets = rows.map(() => Math.floor(rnd() * V));
              const gradsOf = async (selected: boolean) =>
                await tidyAsync(async () => {
                  for (const p of model.params.values()) p.zeroGrad();
                  const idT = Tensor.fromArray(be, ids, [batch, t]);
                  const rowT = Tensor.fromArray(be, rows, [rows.length]);
                  const full = model.forward(
                    idT,
                    undefined,
                    undefined,
                    selected ? rowT : undefined,
                  );
                  const logits = selected ? full : A.embedding(full, rowT);
                  const ce = A.crossEntropyRows(
                    logits,
                    Tensor.fromArray(be, targets, [rows.length]),
                  );
                  backward(A.dot(ce, Tensor.fromArray(be, rows.map(() => 1), [rows.length])));
                  const grads = [];
                  for (const p of model.params.values()) grads.push(await p.grad!.toArray());
                  return { logits: await logits.value.toArray(), grads };
                });
              const a = await gradsOf(true), b = await gradsOf(false);
              assertClose(a.logits, b.logits, 1e-5, "logits");
              a.grads.forEach((g, i) => assertClose(g, b.grads[i], 1e-4, `grad ${i}`));
            },
          ),
          { numRuns: 8 },
        );
      } finally {
        model.checkpointLayers = false;
        for (const p of model.params.values()) p.zeroGrad();
        disposeModel(model);
      }
    },
  );
}
