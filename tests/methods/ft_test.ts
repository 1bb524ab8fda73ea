// FT-L and FT-M on the tiny oracle GPT-2: the target becomes the argmax, only the chosen layer's
// FFN output projection changes (and exactly the entries reported), FT-L trains on the last
// prompt token only, and a diverging fine-tune is rolled back bit for bit.

import { FT_DEFAULTS, type FtHparams } from "../../src/methods/ft/hparams.ts";
import { ftlMethod, ftmMethod, ftRow } from "../../src/methods/ft/method.ts";
import { testBackends } from "../helpers/backends.ts";
import {
  assert,
  changedEntries,
  changedTensors,
  ctx,
  predicts,
  sameBits,
  target,
  weights,
  withModel,
} from "../helpers/tiny.ts";

const HP: FtHparams = { ...FT_DEFAULTS, steps: 40 };

for (const method of [ftlMethod, ftmMethod]) {
  for (const layer of [-1, 0]) {
    testBackends(
      `${method.name} (layer ${layer}) makes the target the argmax, changing only that projection`,
      async (be) => {
        await withModel(be, async (m) => {
          const t = target(m, "The capital of France is", "Tokyo");
          assert(!(await predicts(m, t)), "the fixture already predicts the target");
          const before = await weights(m);
          const r = await method.apply(ctx(m), [t], { ...HP, layer });
          assert(!r.rolledBack, "edit rolled back");
          assert(await predicts(m, t), `target is not the argmax after ${method.name}`);
          const after = await weights(m);
          const l = layer < 0 ? 1 : layer;
          const name = `transformer.h.${l}.mlp.c_proj.weight`;
          const changed = changedTensors(before, after);
          assert(
            changed.length === 1 && changed[0] === name,
            `changed ${changed.join(", ")}, expected only ${name}`,
          );
          const reported = r.changes.reduce((s, c) => s + c.indices.length, 0);
          assert(
            reported === changedEntries(before, after) && r.changes[0].name === name,
            "the reported changes do not match the weights",
          );
        });
      },
    );
  }
}

testBackends("FT-L's loss is the first target token at the last prompt position", async (be) => {
  await withModel(be, (m) => {
    const t = target(m, "The capital of France is", "Tokyo Paris");
    const l = ftRow(t, "prompt_last");
    assert(l.ids.length === t.promptIds.length, "FT-L row is not the prompt");
    assert(
      l.targets.filter((x) => x >= 0).length === 1 && l.targets.at(-1) === t.targetIds[0],
      "FT-L target is not the first target token at the last prompt token",
    );
    const mRow = ftRow(t, "target_new");
    assert(mRow.targets.filter((x) => x >= 0).length === 2, "FT-M does not train every token");
  });
});

testBackends(
  "a diverging fine-tune is rolled back and leaves the model bit-identical",
  async (be) => {
    await withModel(be, async (m) => {
      const original = await weights(m);
      const t = target(m, "The capital of Italy is", "Paris");
      const r = await ftmMethod.apply(ctx(m), [t], { ...HP, lr: 1e38, steps: 5 });
      assert(r.rolledBack, "a 1e38 learning rate did not diverge");
      assert(r.changes.length === 0, "a rolled back edit reports changes");
      const now = await weights(m);
      for (const [k, v] of now) assert(sameBits(v, original.get(k)!), `${k} not restored`);
    });
  },
);

testBackends("the norm constraint bounds every entry's change", async (be) => {
  await withModel(be, async (m) => {
    const t = target(m, "The capital of France is", "Tokyo");
    const eps = 1e-3;
    const r = await ftlMethod.apply(ctx(m), [t], { ...HP, normConstraint: eps });
    for (const c of r.changes) {
      c.indices.forEach((_, k) =>
        assert(Math.abs(c.after[k] - c.before[k]) <= eps * 1.0001, "change beyond the constraint")
      );
    }
    assert(r.changes.length === 1, "nothing changed");
  });
});
