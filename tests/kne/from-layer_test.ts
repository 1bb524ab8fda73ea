// KNE's fromLayer: layers below the floor are neither scored nor edited. On the tiny GPT-2
// fixture (2 layers) the default ensemble of this edit holds layer-0 units, so the floor has
// something to keep out; with fromLayer 1 every scored tensor, ensemble unit and changed entry is
// in layer 1 and the edit still makes the target the argmax; a floor at the layer count is refused.

import { kneEdit } from "../../src/kne/kne.ts";
import { getBackend } from "../helpers/backends.ts";
import { TINY_HP } from "../helpers/kne.ts";
import { assert, changedTensors, predicts, target, weights, withModel } from "../helpers/tiny.ts";

const PROMPT = "The capital of France is";

Deno.test({
  name: "fromLayer keeps the ensemble and every change at or above the floor [wasm]",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const be = await getBackend("wasm");
    await withModel(be, async (m) => {
      const free = await kneEdit(m.model, [target(m, PROMPT, "Tokyo").row], TINY_HP);
      assert(
        free.ensemble.tensors.some((e) => e.layer === 0),
        "without a floor this edit's ensemble has no layer-0 unit: the test could not fail",
      );
    });
    await withModel(be, async (m) => {
      const t = target(m, PROMPT, "Tokyo");
      const before = await weights(m);
      const r = await kneEdit(m.model, [t.row], { ...TINY_HP, fromLayer: 1 });
      assert(!r.rolledBack, "the edit diverged");
      assert(await predicts(m, t), "the target is not the argmax after the edit");
      const scored = r.attribution.tensors.map((s) => s.info.layer);
      assert(scored.length > 0 && scored.every((l) => l === 1), `scored layers ${scored}`);
      const units = r.ensemble.tensors.map((e) => e.layer);
      assert(units.length > 0 && units.every((l) => l === 1), `ensemble layers ${units}`);
      const changed = changedTensors(before, await weights(m));
      assert(changed.length > 0, "nothing changed");
      const layerOf = new Map(m.model.paramInfo.map((p) => [p.name, p.layer]));
      for (const name of changed) {
        assert(layerOf.get(name) === 1, `${name} changed below the floor`);
      }
    });
  },
});

Deno.test({
  name: "fromLayer at the layer count is refused before anything is scored [wasm]",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const be = await getBackend("wasm");
    await withModel(be, async (m) => {
      const before = await weights(m);
      let message = "";
      try {
        await kneEdit(m.model, [target(m, PROMPT, "Tokyo").row], { ...TINY_HP, fromLayer: 2 });
      } catch (e) {
        message = (e as Error).message;
      }
      assert(/fromLayer 2 leaves no layer to score/.test(message), `error: ${message}`);
      assert(changedTensors(before, await weights(m)).length === 0, "the model changed");
    });
  },
});
