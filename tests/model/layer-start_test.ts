// A forward that starts at a layer (CausalLM.forward's `start`) from the residual stream entering
// it (src/kne/update.ts residualEntering), on the tiny GPT-2, Llama, GPT-J, Gemma 2 and Gemma 3
// fixtures, both backends, plain and checkpointed: the logits at the read rows and every gradient
// of the layers it runs are bit-identical to the whole forward's, and the layers below get none.
// So KNE's update, which starts its forwards at the ensemble's lowest layer, edits exactly as if
// it ran every layer. A start the forward cannot honour (a layer out of range, a stream of the
// wrong shape) is refused, as is a residual asked for at layer 0 or past the last.

import assert from "node:assert/strict";
import { residualEntering } from "../../src/kne/update.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { BLOCK_FIXTURES } from "../helpers/families.ts";
import { logitsAndGradients, withFixture } from "../helpers/gradients.ts";
import { sameBits } from "../helpers/tiny.ts";

const IDS = [[5, 9, 2, 7, 3, 8, 1], [4, 6, 0, 2, 9, 9, 3]];
const ROWS = [2, 6, 8, 13];

for (const name of BLOCK_FIXTURES) {
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
            const whole = await logitsAndGradients(model, ids, ROWS);
            const started = await logitsAndGradients(model, ids, ROWS, { layer, x });
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
          for (const bad of [0, model.config.nLayers]) {
            assert.throws(() => residualEntering(model, ids, bad), /not one of 1\.\./);
          }
        } finally {
          x.free();
          ids.free();
        }
      });
    },
  );
}
