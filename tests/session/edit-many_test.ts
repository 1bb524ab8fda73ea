// Several requests edited in memory (src/session/edit-many.ts, what the page's batch and sequential
// modes run) give what `deno task edit --mode batch|sequential` gives (src/pipeline/run.ts on the
// same model, requests, hyperparameters and anchor pool): each record's metrics and completions
// and, in sequence, the Edit Succ. of all edits at the end; reverting the merged changes restores
// the model bit for bit.

import { strict as assert } from "node:assert";
import {
  createBackend,
  editMany,
  loadModelFromDir,
  methodByName,
  revertChanges,
} from "../../mod.ts";
import { loadRequests, runEdits, shippedHparams } from "../../deno.ts";
import { editTarget } from "../../src/edit/targets.ts";
import { weightBits } from "../helpers/tiny.ts";

const MODEL = "models/kne-facts";

/** The tensors whose bits differ (a short message; a deepEqual diff of the weights is huge). */
function differing(a: Map<string, Uint32Array>, b: Map<string, Uint32Array>): string[] {
  return [...a].filter(([name, x]) => !x.every((v, i) => v === b.get(name)![i])).map(([n]) => n);
}

for (const mode of ["batch", "sequential"] as const) {
  Deno.test(`editMany in ${mode} mode equals the pipeline's ${mode} run`, async () => {
    const backend = await createBackend("wasm");
    const tmp = await Deno.makeTempDir({ prefix: "kne-many-" });
    try {
      const m = await loadModelFromDir(MODEL, backend);
      const requests = (await loadRequests("data/requests/test.json")).slice(0, 3);
      const anchorPool = await loadRequests("data/requests/dev.json");
      const method = methodByName("kne");
      const hparams = (await shippedHparams(method, MODEL))!.hparams;
      const original = await weightBits(m.model);
      const got = await editMany(m, requests, { mode, hparams, anchorPool });
      const edited = await weightBits(m.model);
      revertChanges(m, got.changes);
      assert.deepEqual(differing(await weightBits(m.model), original), [], "revert restores it");
      const want = await runEdits({
        model: m.model,
        modelDir: MODEL,
        tokenizer: m.tokenizer,
        method,
        hparams,
        targets: requests.map((r) => editTarget(r, m.tokenizer, m.config.contextLength, MODEL)),
        mode,
        out: `${tmp}/out`,
        force: false,
        resume: false,
        seed: 1,
        fluency: false,
        anchors: anchorPool,
      });
      assert.deepEqual(differing(await weightBits(m.model), edited), [], "the run's weights");
      assert.equal(got.records.length, 3);
      assert.ok(got.records.some((r) => r.metrics.editSucc > r.before.editSucc), "nothing edited");
      got.records.forEach((r, i) => {
        const w = want.records[i];
        const { completion, ...metrics } = w.after;
        assert.deepEqual(r.metrics, metrics, `record ${i}: metrics`);
        assert.equal(r.after.completion, completion, `record ${i}: after-completion`);
        assert.deepEqual(r.before, w.before, `record ${i}: before`);
      });
      if (mode === "sequential") {
        const mean = got.endEditSucc!.reduce((a, b) => a + b, 0) / got.endEditSucc!.length;
        assert.ok(Math.abs(100 * mean - want.sequentialEditSucc!) < 1e-9, `${mean}`);
      } else assert.equal(got.endEditSucc, undefined);
    } finally {
      backend.dispose();
      await Deno.remove(tmp, { recursive: true });
    }
  });
}
