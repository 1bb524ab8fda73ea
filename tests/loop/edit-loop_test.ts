// The page's path (src/session/: edit, editMany) and the CLI's (src/pipeline/run.ts: runEdits) are
// adapters over one edit loop (src/loop/edit-loop.ts), so for the same requests, method,
// hyperparameters and anchor pool they give the same records in every mode: the before and after
// Edit Succ. and completions, all metrics, roll-backs, the changed entries, and in a sequence the
// Edit Succ. of every edit after the last one; the page's edits leave the weights the run leaves,
// bit for bit. On the tiny GPT-2 fixture with KNE, its KL term anchored on a pool (and in a
// sequence on the earlier edits, which the weights would show if one path dropped them).

import { strict as assert } from "node:assert";
import { edit, editMany, loadModelFromDir, methodByName, revertChanges } from "../../mod.ts";
import type { RecordResult } from "../../deno.ts";
import { editTarget } from "../../src/edit/targets.ts";
import type { RecordMetrics } from "../../src/eval/record.ts";
import { type EditRequest, validateRequests } from "../../src/io/requests.ts";
import type { EditMode } from "../../src/loop/edit-loop.ts";
import { runEdits } from "../../src/pipeline/run.ts";
import type { SessionModel } from "../../src/session/load.ts";
import { getBackend } from "../helpers/backends.ts";
import { TINY_HP } from "../helpers/kne.ts";
import { TINY, weightBits } from "../helpers/tiny.ts";

const REQUESTS = validateRequests([
  {
    subject: "France",
    prompt: "The capital of France",
    target_new: "Tokyo",
    rephrase_prompt: "the capital of France",
    locality: { Neighborhood: [{ prompt: "The capital of Spain is", ground_truth: "Madrid" }] },
  },
  {
    subject: "Spain",
    prompt: "The capital of Spain",
    target_new: "Lima",
    locality: { Neighborhood: [{ prompt: "The capital of Italy is", ground_truth: "Rome" }] },
  },
  {
    subject: "Italy",
    prompt: "The capital of Italy",
    target_new: "Paris",
    locality: { Neighborhood: [{ prompt: "The capital of France is", ground_truth: "Paris" }] },
  },
], "test");
/** Anchors of other subjects for the KL term (never the evaluated probes). */
const POOL = validateRequests([
  { subject: "Japan", prompt: "The capital of Japan is", target_new: "Tokyo" },
  { subject: "Peru", prompt: "The capital of Peru is", target_new: "Lima" },
  { subject: "Germany", prompt: "The capital of Germany is", target_new: "Berlin" },
], "pool");
const HPARAMS = { ...TINY_HP, steps: 30 };

/** What both paths report of one record. */
interface Seen {
  before: { editSucc: number; completion: string };
  metrics: RecordMetrics;
  completion: string;
  rolledBack: boolean;
  paramsChanged: number;
}

const entries = (changes: readonly { indices: Uint32Array }[]) =>
  changes.reduce((n, c) => n + c.indices.length, 0);

/** The page's edits: one at a time from the unedited model (single), or editMany. */
async function pageEdits(
  m: SessionModel,
  mode: EditMode,
): Promise<{ seen: Partial<Seen>[]; endEditSucc?: number[]; revert: () => void }> {
  const opts = { hparams: HPARAMS, anchorPool: POOL };
  if (mode === "single") {
    const seen = [];
    for (const r of REQUESTS) {
      const { before, metrics, after, rolledBack, changes } = await edit(m, r, opts);
      revertChanges(m, changes);
      const paramsChanged = entries(changes);
      seen.push({ before, metrics, completion: after.completion, rolledBack, paramsChanged });
    }
    return { seen, revert: () => {} };
  }
  const out = await editMany(m, REQUESTS, { ...opts, mode });
  const seen = out.records.map(({ before, metrics, after, rolledBack }) => ({
    before,
    metrics,
    completion: after.completion,
    rolledBack,
  }));
  return { seen, endEditSucc: out.endEditSucc, revert: () => revertChanges(m, out.changes) };
}

function cliSeen({ before, after, rolledBack, paramsChanged }: RecordResult): Seen {
  const { completion, ...metrics } = after;
  return { before, metrics, completion, rolledBack, paramsChanged };
}

for (const mode of ["single", "batch", "sequential"] as const) {
  Deno.test({
    name: `edit loop: the page and the CLI give the same ${mode} records`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const m = await loadModelFromDir(TINY, await getBackend("wasm"));
      const tmp = await Deno.makeTempDir({ prefix: "kne-loop-" });
      try {
        const original = await weightBits(m.model);
        const page = await pageEdits(m, mode);
        const pageWeights = await weightBits(m.model);
        page.revert();
        assert.deepEqual(await weightBits(m.model), original, "the page's edits revert");
        const run = await runEdits({
          model: m.model,
          modelDir: TINY,
          storedDtypes: m.weights.storedDtypes,
          tokenizer: m.tokenizer,
          method: methodByName("kne"),
          hparams: HPARAMS,
          targets: REQUESTS.map((r: EditRequest) =>
            editTarget(r, m.tokenizer, m.config.contextLength, "test")
          ),
          mode,
          out: `${tmp}/out`,
          force: false,
          resume: false,
          seed: 1,
          fluency: false,
          anchors: POOL,
        });
        assert.deepEqual(await weightBits(m.model), pageWeights, "the weights the edits leave");
        assert.equal(run.records.length, REQUESTS.length);
        assert.ok(
          run.records.some((r) => r.after.editSucc > r.before.editSucc),
          "no edit took: the comparison would be vacuous",
        );
        run.records.forEach((r, i) => {
          const want = cliSeen(r);
          // editMany does not report each record's own changes (a batch has one edit of all).
          if (mode !== "single") delete (want as Partial<Seen>).paramsChanged;
          assert.deepEqual(page.seen[i], want, `record ${i}`);
        });
        if (mode === "sequential") {
          const end = page.endEditSucc!;
          assert.equal(end.length, REQUESTS.length);
          const mean = (100 * end.reduce((a, s) => a + s, 0)) / end.length;
          assert.equal(mean, run.sequentialEditSucc);
        } else assert.equal(page.endEditSucc, undefined);
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    },
  });
}
