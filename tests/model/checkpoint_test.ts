// Gradient checkpointing (CausalLM.checkpointLayers) on the tiny GPT-2, Llama, GPT-J, Gemma 2 and
// Gemma 3 fixtures, both backends: logits and every parameter's gradient are bit-identical to the
// plain graph (also along the attribution path, projectionScale != 1), and KNE's attribution and
// update (gradient sinks, unit gradients) give the same results bit for bit. What a checkpointed
// forward keeps is checked against the planner in tests/reliability/plan_test.ts.

import assert from "node:assert/strict";
import { teacherForced } from "../../src/edit/request.ts";
import { kneEdit } from "../../src/kne/kne.ts";
import { disposeModel } from "../../src/model/build.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { BLOCK_FIXTURES, fixtureDir } from "../helpers/families.ts";
import { logitsAndGradients, withFixture } from "../helpers/gradients.ts";
import { TINY_HP } from "../helpers/kne.ts";
import { sameBits } from "../helpers/tiny.ts";

const IDS = [[5, 9, 2, 7, 3, 8, 1], [4, 6, 0, 2, 9, 9, 3]];

/** Logits and every parameter's gradient of sum(logits * seed), for a batch of two rows. */
async function gradients(model: CausalLM): Promise<Map<string, Float32Array>> {
  const ids = Tensor.fromArray(model.backend, IDS.flat(), [IDS.length, IDS[0].length]);
  try {
    return await logitsAndGradients(model, ids);
  } finally {
    ids.free();
  }
}

for (const name of BLOCK_FIXTURES) {
  testBackends(`${name}: checkpointed layers give the same logits and gradients`, async (be) => {
    await withFixture(be, name, async (model) => {
      for (const scale of [1, 0.5]) {
        model.projectionScale = scale;
        model.checkpointLayers = false;
        const plain = await gradients(model);
        model.checkpointLayers = true;
        const ckpt = await gradients(model);
        for (const [n, g] of plain) {
          assert.ok(g.length > 0 || n === "logits", `${n}: no gradient`);
          assert.ok(sameBits(ckpt.get(n)!, g), `${n} differs with checkpointing (scale ${scale})`);
        }
      }
      model.projectionScale = 1;
    });
  });

  testBackends(`${name}: KNE edits bit for bit the same with checkpointed layers`, async (be) => {
    const runs = [];
    for (const checkpointed of [false, true]) {
      const { model } = await loadModel(fixtureDir(name), be, { tokenizer: false });
      try {
        model.checkpointLayers = checkpointed;
        const rows = [teacherForced([5, 9, 2, 7, 3, 8], [4, 6], model.config.contextLength)];
        runs.push(await kneEdit(model, rows, { ...TINY_HP, steps: 5, earlyStopLoss: 0 }));
      } finally {
        disposeModel(model);
      }
    }
    const [plain, ckpt] = runs;
    for (const [i, t] of plain.attribution.tensors.entries()) {
      assert.ok(sameBits(ckpt.attribution.tensors[i].unitScores, t.unitScores), t.info.name);
    }
    assert.deepEqual(ckpt.update.losses, plain.update.losses);
    assert.equal(ckpt.changes.length, plain.changes.length);
    for (const [i, c] of plain.changes.entries()) {
      assert.ok(sameBits(ckpt.changes[i].after, c.after), `${c.name} after the edit`);
    }
  });
}
