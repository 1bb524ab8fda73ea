// The request formats through the real commands (scripts/edit.ts as a subprocess): each fixture
// file of tests/fixtures/formats/ is accepted by `--plan` on the committed BPE model (any text
// encodes there); a wrong --format is refused with the reader's message and an unknown one as a
// usage error (by `deno task compare` too); and a CounterFact file written in the tiny fixture's
// words is edited end to end, its neighbourhood prompts scored as the Neighborhood locality kind
// and as CounterFact's neighbourhood score.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  copyModel,
  exists,
  FAST,
  hashTree,
  ROOT,
  runEdit,
  type RunResult,
} from "../reliability/cli_helpers.ts";

const TMP = await Deno.makeTempDir({ prefix: "kne-formats-" });
const BASE = join(ROOT, "models/kne-facts-base");
const fixture = (f: string) => join(ROOT, "tests/fixtures/formats", `${f}.json`);
const BASE_HASH = await hashTree(BASE);
const opts = { sanitizeResources: false, sanitizeOps: false };

function show(r: RunResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

Deno.test({
  name: "every format's fixture is accepted by --plan, by shape and by name",
  ...opts,
  fn: async () => {
    for (const f of ["counterfact", "zsre", "mquake", "knowedit"]) {
      for (const format of [[], ["--format", f]]) {
        const out = join(TMP, `plan-${f}`);
        const r = await runEdit([
          "--model",
          BASE,
          "--requests",
          fixture(f),
          ...format,
          "--plan",
          "--out",
          out,
          ...FAST,
        ]);
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /^memory plan: GPT2LMHeadModel, 12 layers/);
        assert.equal(await exists(out), false);
      }
    }
  },
});

Deno.test({
  name: "a wrong --format names the record and field; an unknown one is a usage error",
  ...opts,
  fn: async () => {
    const args = ["--model", BASE, "--requests", fixture("counterfact"), "--plan", ...FAST];
    const wrong = await runEdit([...args, "--format", "mquake"]);
    assert.equal(wrong.code, 1, show(wrong));
    assert.equal(
      wrong.stderr.trim(),
      `error: ${
        fixture("counterfact")
      }: record 0: field requested_rewrite: expected a non-empty array of rewrites, got object`,
    );
    const unknown = await runEdit([...args, "--format", "rome"]);
    assert.equal(unknown.code, 2, show(unknown));
    assert.match(
      unknown.stderr,
      /^error: --format must be auto, knowedit, counterfact, zsre or mquake, got "rome"/,
    );
    const withPrompt = await runEdit([
      "--model",
      BASE,
      "--prompt",
      "The capital of France is",
      "--target",
      "Rome",
      "--format",
      "zsre",
      "--plan",
      ...FAST,
    ]);
    assert.equal(withPrompt.code, 2, show(withPrompt));
    assert.match(withPrompt.stderr, /^error: --format goes with --requests/);
    const compare = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, "scripts/compare.ts"), "--model", BASE, "--format", "rome"],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(compare.code, 2);
    assert.equal(
      new TextDecoder().decode(compare.stderr).trim(),
      'error: --format must be auto, knowedit, counterfact, zsre or mquake, got "rome"',
    );
  },
});

Deno.test({
  name: "a CounterFact file is edited end to end; its neighbours are the Neighborhood probes",
  ...opts,
  fn: async () => {
    const model = await copyModel("tiny-gpt2", join(TMP, "model"));
    // ROME's shape, in words the tiny fixture's WordPiece vocabulary knows.
    const requests = join(TMP, "cf.json");
    await Deno.writeTextFile(
      requests,
      JSON.stringify([{
        case_id: 0,
        pararel_idx: 1,
        requested_rewrite: {
          prompt: "The capital of {} is",
          relation_id: "P36",
          target_new: { str: "Rome", id: "Q220" },
          target_true: { str: "Paris", id: "Q90" },
          subject: "France",
        },
        paraphrase_prompts: ["the capital city of France is"],
        neighborhood_prompts: ["The old capital of France is", "the capital of France was"],
        attribute_prompts: ["The capital of Italy is"],
        generation_prompts: ["The capital of France is"],
      }]),
    );
    const hp = join(TMP, "quick.json");
    await Deno.writeTextFile(hp, JSON.stringify({ igSteps: 2, steps: 8 }));
    const out = join(TMP, "edit");
    const r = await runEdit([
      "--model",
      model,
      "--requests",
      requests,
      "--format",
      "counterfact",
      "--hparams",
      hp,
      "--out",
      out,
      "--json",
      ...FAST,
    ]);
    assert.equal(r.code, 0, show(r));
    const { summary } = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    assert.deepEqual(Object.keys(summary.localityByKind), ["Neighborhood"]);
    assert.equal(summary.counts.locality, 1);
    assert.equal(summary.counts.neighborhood, 1);
    assert.equal(summary.counts.efficacy, 1);
    assert.equal(summary.counts.paraphrase, 1);
    assert.equal(summary.counts.portability, 0);
  },
});

Deno.test({
  name: "the committed model folder is byte-identical after the runs",
  ...opts,
  fn: async () => {
    assert.deepEqual(await hashTree(BASE), BASE_HASH);
    await Deno.remove(TMP, { recursive: true });
  },
});
