// The hyperparameters shipped per method and model (src/pipeline/hparams.ts): found by the model
// folder's name, merged over the defaults and checked against the schema; none for a model
// without a file; a bad shipped file is an HparamsError naming it. The files of models/kne-facts
// hold the values its dev split chose, which are also the built-in defaults, except the three keys
// of KNE's retune with kne-facts' own anchor split (2026-12-05); those of the default
// model, kne-facts-base, and of its Llama-style twin, the values their own dev splits chose; a
// mode's own file (<model>.<mode>.json, KNE's sequential and batch settings) is used in that mode.

import assert from "node:assert/strict";
import { join } from "node:path";
import { HparamsError, parseHparams } from "../../src/io/requests.ts";
import { methodByName, METHODS } from "../../src/methods/registry.ts";
import { shippedHparams, shippedHparamsFile } from "../../src/pipeline/hparams.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("shipped hparams: found by the model folder's name, merged over the defaults", async () => {
  const root = await Deno.makeTempDir();
  try {
    const kne = methodByName("kne");
    await Deno.mkdir(join(root, "kne"));
    await Deno.writeTextFile(join(root, "kne", "my-model.json"), JSON.stringify({ topP: 0.002 }));
    const got = await shippedHparams(kne, "/somewhere/models/my-model/", root);
    assert.equal(got!.file, join(root, "kne", "my-model.json"));
    assert.deepEqual(got!.hparams, { ...kne.defaults, topP: 0.002 });
    assert.equal(await shippedHparams(kne, "models/other-model", root), null);
    assert.equal(await shippedHparams(methodByName("rome"), "models/my-model", root), null);
    // A mode's own file is used in that mode; other modes (and none) read the model's file.
    await Deno.writeTextFile(join(root, "kne", "my-model.sequential.json"), '{"spareHeld": 1}');
    const seq = await shippedHparams(kne, "models/my-model", root, "sequential");
    assert.equal(seq!.file, join(root, "kne", "my-model.sequential.json"));
    assert.deepEqual(seq!.hparams, { ...kne.defaults, spareHeld: 1 });
    assert.equal((await shippedHparams(kne, "models/my-model", root, "batch"))!.file, got!.file);
    assert.equal((await shippedHparams(kne, "models/my-model", root))!.file, got!.file);
    await Deno.writeTextFile(join(root, "kne", "bad.json"), JSON.stringify({ topP: "many" }));
    await assert.rejects(
      shippedHparams(kne, "models/bad", root),
      (e: unknown) =>
        e instanceof HparamsError && e.message.startsWith(join(root, "kne", "bad.json")),
    );
    await Deno.mkdir(join(root, "kne", "folder.json"));
    await assert.rejects(
      shippedHparams(kne, "models/folder", root),
      (e: unknown) => e instanceof HparamsError && /cannot read: .*folder/.test(e.message),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("shipped hparams: every method has a valid file for models/kne-facts", async () => {
  for (const [name, m] of METHODS) {
    const got = await shippedHparams(m, join(ROOT, "models/kne-facts"));
    assert.equal(got?.file, shippedHparamsFile(name, "models/kne-facts"), name);
    // KNE's defaults stay the first search's values, for models without a file of their own.
    // kne-paper is the same code as kne with the paper's units, which are kne's defaults on this
    // model, so kne's search here was kne-paper's too and both ship its choice.
    const retuned = name === "kne" || name === "kne-paper"
      ? { lr: 0.01, klWeight: 12.5, klAnchorsPerStep: 8 }
      : {};
    assert.deepEqual(got!.hparams, { ...m.defaults, ...retuned }, name);
  }
});

// The Llama-style twin has a file for every method of the comparison; kne-paper was not tuned on it.
const TUNED: [string, string[]][] = [["kne-facts-base", []], ["kne-facts-base-llama", [
  "kne-paper",
]]];
for (const [model, skip] of TUNED) {
  Deno.test(`shipped hparams: every method has a valid file for models/${model}`, async () => {
    for (const [name, m] of METHODS) {
      const got = await shippedHparams(m, join(ROOT, "models", model));
      if (skip.includes(name)) {
        assert.equal(got, null, name);
        continue;
      }
      assert.equal(got?.file, shippedHparamsFile(name, `models/${model}`), name);
      // Tuned on the model's dev split: every file sets what its search chose (bench/RESULTS.md).
      assert.notDeepEqual(got!.hparams, m.defaults, name);
    }
  });
}

Deno.test("kne-paper: the paper's units only; kne's own choices are refused by name", () => {
  const paper = methodByName("kne-paper"), kne = methodByName("kne");
  assert.deepEqual(paper.defaults, kne.defaults);
  for (const bad of ['{"scoredGroups": "mlp"}', '{"ffnUnit": "neuron"}', '{"fromLayer": 6}']) {
    assert.throws(
      () => parseHparams(bad, paper.defaults, paper.schema, "hp.json"),
      (e: unknown) => e instanceof HparamsError && /hp\.json/.test(e.message),
    );
    parseHparams(bad, kne.defaults, kne.schema, "hp.json");
  }
});

// The single-edit setting the sequential search started from (on v3, before fromLayer).
const SEARCH_BASE = {
  ...methodByName("kne").defaults,
  igSteps: 4,
  topP: 0.004,
  selection: "global",
  perLayerK: 8,
  scoredGroups: "mlp",
  ffnUnit: "neuron",
  unitScore: "sum_abs",
  lr: 0.005,
  steps: 60,
  earlyStopLoss: 0.05,
  klWeight: 10,
  klAnchorsPerStep: 0,
  beta1: 0.9,
  beta2: 0.999,
};

Deno.test("kne-facts-base's sequential KNE file: the searches' base with the sequential choices", async () => {
  const kne = methodByName("kne");
  const dir = join(ROOT, "models/kne-facts-base");
  const seq = (await shippedHparams(kne, dir, undefined, "sequential"))!;
  assert.equal(seq.file, shippedHparamsFile("kne", dir, undefined, "sequential"));
  // Chosen on base-dev (bench/RESULTS.md, "Sequential editing on base-dev").
  assert.deepEqual(seq.hparams, {
    ...SEARCH_BASE,
    klWeight: 30,
    klAnchorsPerStep: 48,
    spareHeld: 1,
  });
});

Deno.test("kne-facts-base's batch KNE file: the single-edit floor, more neurons, a weak KL term read in strided groups of 192", async () => {
  const kne = methodByName("kne");
  const dir = join(ROOT, "models/kne-facts-base");
  const batch = (await shippedHparams(kne, dir, undefined, "batch"))!;
  assert.equal(batch.file, shippedHparamsFile("kne", dir, undefined, "batch"));
  const single = (await shippedHparams(kne, dir, undefined, "single"))!;
  // Chosen on the shipped model's dev split with the mended anchors (bench/RESULTS.md, "KNE's
  // anchors").
  assert.deepEqual(batch.hparams, {
    ...single.hparams,
    topP: 0.1,
    klWeight: 0.625,
    klAnchorsPerStep: 192,
  });
});
