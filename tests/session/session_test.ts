// The library's in-memory path (mod.ts, src/session/): a model loaded by URL holds the same
// weights as the folder loader's, an edit's patch round-trips through its bytes, and applying or
// reverting it moves the model between the edited and the original weights bit for bit; a bad
// request is refused with its reason.

import { strict as assert } from "node:assert";
import {
  applyPatch,
  complete,
  createBackend,
  decodePatch,
  edit,
  encodePatch,
  loadModelFromDir,
  simpleRequest,
} from "../../mod.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { weightBits } from "../helpers/tiny.ts";

const MODEL = "models/kne-facts";
const PROMPT = "The capital of France is";

Deno.test("a model loaded by URL equals the folder loader's, bit for bit", async () => {
  const backend = await createBackend("wasm");
  try {
    const byUrl = await loadModelFromDir(MODEL, backend);
    const byDir = await loadModel(MODEL, backend);
    assert.deepEqual(await weightBits(byUrl.model), await weightBits(byDir.model));
    assert.deepEqual(byUrl.tokenizer.encode(PROMPT), byDir.tokenizer!.encode(PROMPT));
  } finally {
    backend.dispose();
  }
});

Deno.test("an edit's patch bytes revert and re-apply it exactly", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    const original = await weightBits(m.model);
    const out = await edit(m, simpleRequest(PROMPT, "Rome"), { hparams: { steps: 20 } });
    assert.equal(out.metrics.editSucc, 1);
    assert.ok(out.changes.length > 0);
    const edited = await weightBits(m.model);
    const patch = await decodePatch("patch.safetensors", await encodePatch(out.changes));
    assert.deepEqual(await applyPatch(m, patch, "revert"), []);
    assert.deepEqual(await weightBits(m.model), original);
    assert.equal(await complete(m, PROMPT), out.before.completion);
    // Reverting twice is refused: the model no longer holds the patch's "after" values.
    await assert.rejects(() => applyPatch(m, patch, "revert"), /does not hold the values/);
    assert.deepEqual(await applyPatch(m, patch, "apply"), []);
    assert.deepEqual(await weightBits(m.model), edited);
    assert.equal(await complete(m, PROMPT), out.after.completion);
  } finally {
    backend.dispose();
  }
});

Deno.test("edit() names what is wrong: an empty prompt or target, an unknown method", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    const original = await weightBits(m.model);
    await assert.rejects(() => edit(m, simpleRequest(" ", "Rome")), /the prompt is empty/);
    await assert.rejects(() => edit(m, simpleRequest(PROMPT, "")), /the new target is empty/);
    // In the library's terms, not the command line's ("--method must be one of").
    await assert.rejects(
      () => edit(m, simpleRequest(PROMPT, "Rome"), { method: "rom" }),
      /^Error: no editing method "rom"; methods: kne, kne-paper, /,
    );
    assert.deepEqual(await weightBits(m.model), original);
  } finally {
    backend.dispose();
  }
});
