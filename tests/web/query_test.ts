// The page's query (web/query.ts, used by web/main.ts): ?model= and ?backend= select the option
// they name; an unknown name keeps the default and says so, naming it and the options (the page
// used to select no option and load model "" without a word); an absent or empty one is silent.

import { strict as assert } from "node:assert";
import { queryChoice } from "../../web/query.ts";
import { SHIPPED_SPLITS } from "../../src/pipeline/models.ts";

const MODELS = Object.keys(SHIPPED_SPLITS);
const model = (search: string) =>
  queryChoice(new URLSearchParams(search), "model", MODELS, "kne-facts-base", "shipped model");

Deno.test("?model= names a shipped model: it is selected, no note", () => {
  assert.deepEqual(model("?backend=wasm&model=kne-facts"), { value: "kne-facts", note: null });
});

Deno.test("?model= absent or empty: the default, no note", () => {
  assert.deepEqual(model(""), { value: "kne-facts-base", note: null });
  assert.deepEqual(model("?model="), { value: "kne-facts-base", note: null });
});

Deno.test("?model= with an unknown name: the default, and a note naming it and the models", () => {
  const got = model("?model=kne-fact");
  assert.equal(got.value, "kne-facts-base");
  assert.equal(
    got.note,
    `?model=kne-fact names no shipped model; the shipped models are ${MODELS.join(", ")}: ` +
      `kne-facts-base is used instead`,
  );
  assert.ok(MODELS.every((m) => got.note!.includes(m)));
  // The same for ?backend=.
  const backend = queryChoice(
    new URLSearchParams("?backend=cuda"),
    "backend",
    ["auto", "webgpu", "wasm"],
    "auto",
    "backend",
  );
  assert.deepEqual(backend, {
    value: "auto",
    note:
      "?backend=cuda names no backend; the backends are auto, webgpu, wasm: auto is used instead",
  });
});
