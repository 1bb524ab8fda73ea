// Sequential editing measures Locality against the original model, as EasyEdit does: a stub
// method whose first edit scrambles the model's output head and whose later edits change nothing
// must cost the later records Locality too (measured against the model before the sequence, they
// see the scramble), where a baseline taken after the earlier edits would score them 100; and the
// run reports its retention curve (Edit Succ. of each edit k edits later) with a chart. Each
// edit is shown the changes of the edits before it (EditContext.priorChanges, KNE's spareHeld).

import assert from "node:assert/strict";
import type { EditMethod } from "../../src/edit/method.ts";
import { Snapshot } from "../../src/edit/snapshot.ts";
import { editTarget } from "../../src/edit/targets.ts";
import { loadRequests } from "../../src/io/requests.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { runEdits } from "../../src/pipeline/run.ts";
import { writeEntries } from "../../src/tensor/ops.ts";
import { getBackend } from "../helpers/backends.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("sequential mode: Locality of later records is measured against the original model", async () => {
  const be = await getBackend("wasm");
  const dir = `${ROOT}models/kne-facts`;
  const { model, tokenizer, weights: { storedDtypes } } = await loadModel(dir, be, {
    tokenizer: true,
  });
  const tok = tokenizer!;
  const requests = (await loadRequests(`${ROOT}data/requests/test.json`)).slice(0, 3);
  const targets = requests.map((r) => editTarget(r, tok, model.config.contextLength, "test"));
  let calls = 0;
  const editChanges: unknown[] = [];
  const priorSeen: unknown[][] = [];
  // The token embedding, which the tied head also reads: reversing it changes every prediction.
  const name = [...model.params.keys()].find((n) => /wte/.test(n))!;
  const stub: EditMethod = {
    name: "scramble-once",
    description: "test stub",
    defaults: {},
    schema: {},
    weightDtypes: ["f32"],
    usesAnchors: () => false,
    async apply(ctx) {
      priorSeen.push([...(ctx.priorChanges ?? [])]);
      const snap = await Snapshot.take(ctx.model, [name]);
      if (calls++ === 0) {
        const p = ctx.model.params.get(name)!.value;
        const reversed = Float32Array.from(await p.toArray()).reverse();
        writeEntries(p, Uint32Array.from({ length: p.size }, (_, i) => i), reversed);
      }
      const changes = await snap.changes();
      editChanges.push(changes);
      return {
        changes,
        rolledBack: false,
        artifacts: {},
        pictures: {},
        timings: {},
      };
    },
  };
  const tmp = await Deno.makeTempDir({ prefix: "kne-seq-" });
  try {
    const result = await runEdits({
      model,
      modelDir: dir,
      storedDtypes,
      tokenizer: tok,
      method: stub,
      hparams: {},
      targets,
      mode: "sequential",
      out: `${tmp}/out`,
      force: false,
      resume: false,
      seed: 1,
      fluency: false,
      anchors: [],
    });
    // Edit k sees the k earlier edits' changes, in order.
    assert.deepEqual(priorSeen, [[], [editChanges[0]], [editChanges[0], editChanges[1]]]);
    const loc = result.records.map((r) => r.after.locality!);
    assert.equal(result.records.length, 3);
    // Locality is a fraction here. The later records' own edits changed nothing; against the
    // original model they still lose it (a baseline after the scramble would give them 1).
    for (const l of loc) assert.ok(l < 0.5, `locality ${loc}`);
    // Retention: with 3 edits every edit is a checkpoint, so edit i is measured 3 - i times.
    const m = JSON.parse(await Deno.readTextFile(`${tmp}/out/metrics.json`));
    assert.deepEqual(m.retention.map((p: { lag: number; n: number }) => [p.lag, p.n]), [
      [0, 3],
      [1, 2],
      [2, 1],
    ]);
    for (const p of m.retention) assert.ok(p.held >= 0 && p.held <= 100);
    assert.match(await Deno.readTextFile(`${tmp}/out/retention.svg`), /^<svg/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
