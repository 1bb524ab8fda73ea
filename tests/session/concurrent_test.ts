// The library's calls started together (Promise.all) run one after another, as if awaited in
// call order: tensors' tidy scopes are one stack per process, and interleaved edits freed each
// other's tensors (two models) or left a model edited after both edits were reverted (one model).

import { strict as assert } from "node:assert";
import {
  complete,
  createBackend,
  edit,
  editMany,
  loadModelFromDir,
  revertChanges,
  simpleRequest,
} from "../../mod.ts";
import { weightBits } from "../helpers/tiny.ts";

const MODEL = "models/kne-facts";
const FRANCE = "The capital of France is";
const JAPAN = "The capital of Japan is";

Deno.test("edits of two models started together give what they give one at a time", async () => {
  const backend = await createBackend("wasm");
  try {
    const a = await loadModelFromDir(MODEL, backend);
    const b = await loadModelFromDir(MODEL, backend);
    const alone = await edit(a, simpleRequest(FRANCE, "Rome"));
    revertChanges(a, alone.changes);
    const [x, y] = await Promise.all([
      edit(a, simpleRequest(FRANCE, "Rome")),
      edit(b, simpleRequest(FRANCE, "Rome")),
    ]);
    assert.deepEqual(x.changes, alone.changes);
    assert.deepEqual(y.changes, alone.changes);
    assert.equal(await complete(b, FRANCE), alone.after.completion);
  } finally {
    await backend.dispose();
  }
});

Deno.test("calls on one model started together run in call order; reverting them restores it", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    const original = await weightBits(m.model);
    const france = () => edit(m, simpleRequest(FRANCE, "Rome"));
    const japan = () => edit(m, simpleRequest(JAPAN, "Paris"));
    const text = () => complete(m, FRANCE);
    const batch = () => editMany(m, [simpleRequest(JAPAN, "Berlin")], { mode: "batch" });
    // One after another, awaited.
    const x0 = await france(), y0 = await japan(), t0 = await text(), b0 = await batch();
    for (const c of [b0, y0, x0]) revertChanges(m, c.changes);
    assert.deepEqual(await weightBits(m.model), original);
    // Started together.
    const [x, y, t, b] = await Promise.all([france(), japan(), text(), batch()]);
    assert.deepEqual([x.changes, y.changes, t, b.changes], [
      x0.changes,
      y0.changes,
      t0,
      b0.changes,
    ]);
    assert.deepEqual(b.records[0].before, b0.records[0].before);
    for (const c of [b, y, x]) revertChanges(m, c.changes);
    assert.deepEqual(await weightBits(m.model), original);
    assert.equal(await complete(m, FRANCE), x0.before.completion);
  } finally {
    await backend.dispose();
  }
});
