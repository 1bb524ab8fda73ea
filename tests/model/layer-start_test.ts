// A forward that starts at a layer (CausalLM.forward's `start`) from the residual stream entering
// it (src/kne/update.ts residualEntering), on the tiny GPT-2 and Llama fixtures, both backends,
// plain and checkpointed: the logits at the read rows and every gradient of the layers it runs
// are bit-identical to the whole forward's, and the layers below get none. So KNE's update, which
// starts its forwards at the ensemble's lowest layer, edits exactly as if it ran every layer. A
// start the forward cannot honour (a layer out of range, a stream of the wrong shape) is refused.

import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import * as A from "../../src/autograd/ops.ts";
import { backward } from "../../src/autograd/variable.ts";
import { residualEntering } from "../../src/kne/update.ts";
import { disposeModel } from "../../src/model/build.ts";
import type { CausalLM, LayerStart } from "../../src/model/lm.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { sameBits } from "../helpers/tiny.ts";

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const IDS = [[5, 9, 2, 7, 3, 8, 1], [4, 6, 0, 2, 9, 9, 3]];
const ROWS = [2, 6, 8, 13];

/** Logits at ROWS and every parameter's gradient of sum(logits * seed), from `start` if given. */
async function run(
  model: CausalLM,
  ids: Tensor,
  start?: LayerStart,
): Promise<Map<string, Float32Array>> {
  const be = model.backend;
  const out = new Map<string, Float32Array>();
  await tidyAsync(async () => {
    const rows = Tensor.fromArray(be, ROWS, [ROWS.length]);
    const logits = model.forward(ids, undefined, undefined, rows, start);
    const seed = Float32Array.from({ length: logits.value.size }, (_, i) => Math.cos(i));
    out.set("logits", await logits.value.toArray());
    backward(
      A.dot(A.reshape(logits, [logits.value.size]), Tensor.fromArray(be, seed, [seed.length])),
    );
  });
  for (const [n, p] of model.params) {
    out.set(n, p.grad ? await p.grad.toArray() : new Float32Array(0));
    p.zeroGrad();
  }
  return out;
}

async function withFixture(be: Backend, name: string, fn: (m: CausalLM) => Promise<void>) {
  const { model } = await loadModel(fixture(name), be, { tokenizer: false });
  try {
    await fn(model);
  } finally {
    disposeModel(model);
  }
}

for (const name of ["tiny-gpt2", "tiny-llama"]) {
  testBackends(
    `${name}: a forward started at a layer gives the whole forward's bits`,
    async (be) => {
      await withFixture(be, name, async (model) => {
        const ids = Tensor.fromArray(be, IDS.flat(), [IDS.length, IDS[0].length]);
        const layer = model.config.nLayers - 1;
        const x = residualEntering(model, ids, layer);
        try {
          for (const checkpointed of [false, true]) {
            model.checkpointLayers = checkpointed;
            const whole = await run(model, ids);
            const started = await run(model, ids, { layer, x });
            assert.ok(sameBits(started.get("logits")!, whole.get("logits")!), "logits differ");
            for (const info of model.paramInfo) {
              const g = started.get(info.name)!;
              if (info.layer >= layer) {
                assert.ok(g.length > 0, `${info.name}: no gradient`);
                assert.ok(
                  sameBits(g, whole.get(info.name)!),
                  `${info.name} (ckpt ${checkpointed})`,
                );
              } else if (info.layer >= 0) {
                assert.equal(g.length, 0, `${info.name} below the start got a gradient`);
              }
            }
          }
          model.checkpointLayers = false;
          for (const bad of [{ layer: model.config.nLayers, x }, { layer: -1, x }]) {
            assert.throws(() => model.forward(ids, undefined, undefined, undefined, bad), /layer/);
          }
          const short = Tensor.fromArray(be, new Float32Array(model.config.dModel), [
            1,
            model.config.dModel,
          ]);
          assert.throws(
            () => model.forward(ids, undefined, undefined, undefined, { layer, x: short }),
            /needs \[14,/,
          );
          short.free();
        } finally {
          x.free();
          ids.free();
        }
      });
    },
  );
}
