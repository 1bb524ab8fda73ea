// A run of several requests edited one at a time (single and sequential mode) writes artefact
// files (KNE's ensemble.json) that describe every record, not only the last one as they did: an
// object keeps the last edit's fields at its top level (the file as it was) and gains `records`,
// each record's with its request index; a list (KN's) holds every record's entries. A resume
// keeps the earlier process's records' artefacts (artifacts/record-<i>.json) and redoes a record
// whose file is missing. One edit (one request, a batch) writes its artefacts as before.

import assert from "node:assert/strict";
import type { EditMethod } from "../../src/edit/method.ts";
import { editTarget } from "../../src/edit/targets.ts";
import { loadRequests } from "../../src/io/requests.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import type { EditMode } from "../../src/pipeline/records.ts";
import { runEdits } from "../../src/pipeline/run.ts";
import { getBackend } from "../helpers/backends.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DIR = `${ROOT}models/kne-facts`;

/** A method that changes nothing and reports artefacts naming the requests it edited. */
function stub(edited: number[]): EditMethod {
  return {
    name: "stub",
    description: "test stub",
    defaults: {},
    schema: {},
    weightDtypes: ["f32"],
    usesAnchors: () => false,
    apply(_ctx, targets) {
      const indices = targets.map((t) => t.request.index);
      edited.push(...indices);
      return Promise.resolve({
        changes: [],
        rolledBack: false,
        artifacts: {
          ensemble: { selectedUnits: indices[0] + 10, perLayer: { "0": indices.length } },
          kn: indices.map((record) => ({ record })),
        },
        pictures: {},
        timings: {},
      });
    },
  };
}

async function setup() {
  const be = await getBackend("wasm");
  const { model, tokenizer, weights: { storedDtypes } } = await loadModel(DIR, be, {
    tokenizer: true,
  });
  const requests = (await loadRequests(`${ROOT}data/requests/test.json`)).slice(0, 3);
  const targets = requests.map((r) =>
    editTarget(r, tokenizer!, model.config.contextLength, "test")
  );
  return { model, storedDtypes, tokenizer: tokenizer!, targets };
}

async function run(out: string, mode: EditMode, n: number, edited: number[], resume = false) {
  const { model, storedDtypes, tokenizer, targets } = await setup();
  return await runEdits({
    model,
    modelDir: DIR,
    storedDtypes,
    tokenizer,
    method: stub(edited),
    hparams: {},
    targets: targets.slice(0, n),
    mode,
    out,
    force: false,
    resume,
    seed: 1,
    fluency: false,
    anchors: [],
  });
}

const json = async (path: string) => JSON.parse(await Deno.readTextFile(path));

Deno.test("ensemble.json of several single or sequential edits describes every record", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kne-artifacts-" });
  try {
    for (const mode of ["single", "sequential"] as const) {
      const out = `${tmp}/${mode}`;
      await run(out, mode, 3, []);
      const ensemble = await json(`${out}/ensemble.json`);
      // The top level is the last edit's, as the file always was; `records` holds all three.
      assert.equal(ensemble.selectedUnits, 12, mode);
      assert.deepEqual(
        ensemble.records,
        [0, 1, 2].map((index) => ({ index, selectedUnits: index + 10, perLayer: { "0": 1 } })),
        mode,
      );
      assert.deepEqual(await json(`${out}/kn.json`), [0, 1, 2].map((record) => ({ record })));
    }
    // One edit: the file as it was, no `records`.
    for (const [mode, n] of [["single", 1], ["batch", 3]] as const) {
      const out = `${tmp}/${mode}-${n}`;
      await run(out, mode, n, []);
      assert.deepEqual(await json(`${out}/ensemble.json`), {
        selectedUnits: 10,
        perLayer: { "0": n },
      });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a resume keeps the earlier records' artefacts and redoes a record without them", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kne-artifacts-resume-" });
  try {
    const out = `${tmp}/out`;
    await run(out, "single", 3, []);
    // As a crash would leave it: no final outputs; record 1's artefacts lost as well.
    await Deno.rename(out, `${out}.partial`);
    await Deno.remove(`${out}.partial/ensemble.json`);
    await Deno.remove(`${out}.partial/artifacts/record-1.json`);
    const edited: number[] = [];
    await run(out, "single", 3, edited, true);
    // Record 1 alone, for its lost file.
    assert.deepEqual(edited, [1]);
    const ensemble = await json(`${out}/ensemble.json`);
    assert.deepEqual(ensemble.records.map((r: { index: number }) => r.index), [0, 1, 2]);
    // The top level is still the last record's, not that of the last edit this process made.
    assert.equal(ensemble.selectedUnits, 12);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
