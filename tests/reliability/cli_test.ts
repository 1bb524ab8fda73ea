// No lost work and no damaged inputs, through the real CLI (scripts/edit.ts as a subprocess on a
// copy of the tiny GPT-2 fixture): an existing --out is refused and kept; SIGINT (once: finish
// the record and save; twice: abort) and SIGKILL leave OUT absent and OUT.partial holding the
// finished records, and --resume finishes with the same results as an uninterrupted run; a
// resume with other settings is refused; --out can never be, contain or sit inside the model
// folder; bad inputs exit non-zero with a clear message and create nothing; a target the model
// already answers is edited with a note saying so; the model folder is byte-identical after every
// run.

import assert from "node:assert/strict";
import { join } from "node:path";
import { hasWebGpu } from "../helpers/backends.ts";
import {
  copyModel,
  exists,
  FAST,
  FIXTURES,
  hashTree,
  recordsIn,
  REQUESTS,
  runEdit,
  type RunResult,
  startEdit,
} from "./cli_helpers.ts";
import { FAULTS } from "./counts.ts";

const TMP = await Deno.makeTempDir({ prefix: "kne-cli-" });
const MODEL = await copyModel("tiny-gpt2", join(TMP, "model"));
const MODEL_HASH = await hashTree(MODEL);
const FIXTURE_HASH = await hashTree(join(FIXTURES, "tiny-gpt2"));

/** Small, deterministic hyperparameters; SLOW makes each record take long enough to interrupt. */
const QUICK = join(TMP, "quick.json");
await Deno.writeTextFile(QUICK, JSON.stringify({ igSteps: 2, steps: 8 }));
const SLOW = join(TMP, "slow.json");
await Deno.writeTextFile(SLOW, JSON.stringify({ igSteps: 2, steps: 700, earlyStopLoss: 0 }));

const base = (out: string, hp = QUICK) => [
  "--model",
  MODEL,
  "--requests",
  REQUESTS,
  "--hparams",
  hp,
  "--out",
  out,
  ...FAST,
];

async function modelIntact(): Promise<void> {
  assert.deepEqual(await hashTree(MODEL), MODEL_HASH, "the input model folder changed");
}

function show(r: RunResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "an existing --out is refused without --force and kept intact; --force replaces it",
  ...opts,
  fn: async () => {
    const out = join(TMP, "existing");
    await Deno.mkdir(out);
    await Deno.writeTextFile(join(out, "keep.txt"), "precious");
    const r = await runEdit([...base(out), "--n", "1"]);
    assert.notEqual(r.code, 0, show(r));
    // Not a --force hint: --force would not replace a folder of the user's either.
    assert.match(r.stderr, /was not written by this tool \(no \.kne-output marker/);
    assert.doesNotMatch(r.stderr, /pass --force/);
    assert.equal(await Deno.readTextFile(join(out, "keep.txt")), "precious");
    assert.equal(await exists(`${out}.partial`), false);
    // --force replaces only a folder this tool wrote (its .kne-output marker), never the user's.
    const u = await runEdit([...base(out), "--n", "1", "--force"]);
    assert.equal(u.code, 2, show(u));
    assert.match(u.stderr, /was not written by this tool \(no \.kne-output marker/);
    assert.equal(await Deno.readTextFile(join(out, "keep.txt")), "precious");
    await Deno.writeTextFile(join(out, ".kne-output"), "{}\n");
    const f = await runEdit([...base(out), "--n", "1", "--force"]);
    assert.equal(f.code, 0, show(f));
    assert.equal(await exists(join(out, "keep.txt")), false);
    assert.ok(await exists(join(out, "metrics.json")));
    assert.ok(await exists(join(out, ".kne-output")), "the output carries the marker");
    assert.ok(await exists(join(out, "model/model.safetensors")), "one request: edited model");
    assert.equal(await exists(`${out}.lock`), false, "the lock is released at exit");
    // A trailing slash once put OUT.partial inside OUT, and the final step deleted the results.
    const slash = join(TMP, "slash");
    const t = await runEdit([...base(`${slash}/`), "--n", "1"]);
    assert.equal(t.code, 0, show(t));
    assert.ok(await exists(join(slash, "metrics.json")));
    assert.equal(await exists(`${slash}.partial`), false);
    // An --out whose folders do not exist yet (the default out/<method>-<time> of a fresh clone).
    const nested = join(TMP, "fresh", "out", "kne-1");
    const n = await runEdit([...base(nested), "--n", "1"]);
    assert.equal(n.code, 0, show(n));
    assert.ok(await exists(join(nested, "metrics.json")));
    assert.equal(await exists(`${nested}.lock`), false);
    await modelIntact();
    FAULTS.add("existing --out", 2);
    FAULTS.add("--out with a trailing slash", 1);
    FAULTS.add("--out in folders that do not exist yet", 1);
  },
});

/** Metrics that must not depend on interruptions (timings do). */
function stable(m: { perRecord: Record<string, unknown>[] }) {
  return m.perRecord.map((r) => ({
    index: r.index,
    before: r.before,
    after: r.after,
    paramsChanged: r.paramsChanged,
    rolledBack: r.rolledBack,
  }));
}

async function patchesOf(out: string): Promise<Record<string, string>> {
  return await hashTree(join(out, "patches"));
}

let reference: { metrics: { perRecord: Record<string, unknown>[] }; patches: unknown } | null =
  null;

async function referenceRun() {
  if (reference) return reference;
  const out = join(TMP, "reference");
  const r = await runEdit(base(out, SLOW));
  assert.equal(r.code, 0, show(r));
  reference = {
    metrics: JSON.parse(await Deno.readTextFile(join(out, "metrics.json"))),
    patches: await patchesOf(out),
  };
  assert.equal(reference.metrics.perRecord.length, 5);
  return reference;
}

Deno.test({
  name:
    "SIGINT finishes the record, saves, exits 130; --resume gives an uninterrupted run's results",
  ...opts,
  fn: async () => {
    const ref = await referenceRun();
    const out = join(TMP, "sigint");
    const run = startEdit(base(out, SLOW));
    await run.waitFor(/^#0 /);
    run.child.kill("SIGINT");
    const r = await run.done;
    assert.equal(r.code, 130, show(r));
    assert.match(r.stderr, new RegExp(`interrupted: partial results are in ${out}\\.partial`));
    assert.match(r.stderr, /rerun with --resume to continue/);
    assert.equal(await exists(out), false, "OUT must not exist after an interrupt");
    const saved = await recordsIn(join(`${out}.partial`, "records.jsonl"));
    assert.ok(saved.length >= 1 && saved.length < 5, `${saved.length} records saved`);
    assert.deepEqual(saved.map((x) => x.index), [...saved.keys()]);
    const partialMetrics = JSON.parse(
      await Deno.readTextFile(join(`${out}.partial`, "metrics.json")),
    );
    assert.equal(partialMetrics.interrupted, true);
    await modelIntact();

    // Resuming with other settings would mix results: refused, nothing touched.
    const before = await hashTree(`${out}.partial`);
    const bad = await runEdit([...base(out, QUICK), "--resume"]);
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /cannot resume .*started with other hyperparameters/);
    // Not the hint to rerun with --resume: that is the command just refused.
    assert.doesNotMatch(bad.stderr, /rerun with --resume/);
    assert.deepEqual(await hashTree(`${out}.partial`), before);

    const resumed = await runEdit([...base(out, SLOW), "--resume"]);
    assert.equal(resumed.code, 0, show(resumed));
    assert.equal(await exists(`${out}.partial`), false);
    const m = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    assert.deepEqual(stable(m), stable(ref.metrics));
    assert.deepEqual(await patchesOf(out), ref.patches, "per-record patches bit-identical");
    // Resuming it again: nothing to continue, said plainly (it used to say "OUT exists").
    const again = await runEdit([...base(out, SLOW), "--resume"]);
    assert.equal(again.code, 2, show(again));
    assert.match(again.stderr, /--resume: .* is a finished run \(no .*\.partial to continue\)/);
    await modelIntact();
    FAULTS.add("SIGINT", 1);
    FAULTS.add("resume with other settings", 1);
  },
});

for (const how of ["double SIGINT", "SIGKILL"] as const) {
  Deno.test({
    name: `${how} mid-run: OUT absent, finished records kept; --resume completes them all`,
    ...opts,
    fn: async () => {
      const ref = await referenceRun();
      const out = join(TMP, how.replace(" ", "-"));
      const run = startEdit(base(out, SLOW));
      await run.waitFor(/^#1 /);
      if (how === "SIGKILL") run.child.kill("SIGKILL");
      else {
        run.child.kill("SIGINT");
        await run.waitFor(/^interrupt: finishing the current record/);
        run.child.kill("SIGINT");
      }
      const r = await run.done;
      assert.equal(r.code, how === "SIGKILL" ? 137 : 130, show(r));
      assert.equal(await exists(out), false);
      const saved = await recordsIn(join(`${out}.partial`, "records.jsonl"));
      assert.ok(saved.length >= 2 && saved.length < 5, `${saved.length} records saved`);
      await modelIntact();
      const resumed = await runEdit([...base(out, SLOW), "--resume"]);
      assert.equal(resumed.code, 0, show(resumed));
      const m = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
      assert.deepEqual(stable(m), stable(ref.metrics));
      await modelIntact();
      FAULTS.add(how, 1);
    },
  });
}

Deno.test({
  name: "a records.jsonl line cut by a crash is dropped on resume and that record redone",
  ...opts,
  fn: async () => {
    const ref = await referenceRun();
    const out = join(TMP, "cut");
    const run = startEdit(base(out, SLOW));
    await run.waitFor(/^#1 /);
    run.child.kill("SIGKILL");
    await run.done;
    const file = join(`${out}.partial`, "records.jsonl");
    const text = await Deno.readTextFile(file);
    // Simulate a write cut mid-line: drop the last record's second half.
    const lines = text.trimEnd().split("\n");
    const last = lines.pop()!;
    await Deno.writeTextFile(file, [...lines, last.slice(0, last.length >> 1)].join("\n"));
    const resumed = await runEdit([...base(out, SLOW), "--resume"]);
    assert.equal(resumed.code, 0, show(resumed));
    const m = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    assert.deepEqual(stable(m), stable(ref.metrics));
    assert.equal((await recordsIn(join(out, "records.jsonl"))).length, 5);
    const raw = (await Deno.readTextFile(join(out, "records.jsonl"))).trimEnd().split("\n");
    assert.equal(raw.length, 5, "every line a whole record");
    FAULTS.add("cut records.jsonl line", 1);
  },
});

Deno.test({
  name: "--out can never be, contain, or sit inside the model folder (nor can OUT.partial)",
  ...opts,
  fn: async () => {
    const cases: [string, string[], RegExp][] = [
      ["same", base(MODEL), /is the input model folder/],
      ["same, trailing slash", base(`${MODEL}/`), /is the input model folder/],
      ["inside", base(join(MODEL, "out")), /lies inside the input model folder/],
      ["contains", base(TMP), /contains the input model folder/],
      ["dotted", base(`${MODEL}/../model`), /is the input model folder/],
    ];
    // A model folder named like another run's partial folder.
    const twin = await copyModel("tiny-gpt2", join(TMP, "twin.partial"));
    const twinHash = await hashTree(twin);
    cases.push([
      "OUT.partial is the model",
      [...base(join(TMP, "twin")), "--model", twin, "--force"],
      /twin\.partial is the input model folder/,
    ]);
    for (const [what, args, re] of cases) {
      const r = await runEdit(args);
      assert.equal(r.code, 2, `${what}: ${show(r)}`);
      assert.match(r.stderr, re, what);
      FAULTS.add("--out onto the model", 1);
    }
    assert.deepEqual(await hashTree(twin), twinHash);
    assert.equal(await exists(join(TMP, "twin")), false);
    await modelIntact();
  },
});

Deno.test({
  name: "bad inputs exit non-zero with a clear message and create no output folder",
  ...opts,
  fn: async () => {
    const file = async (name: string, value: unknown) => {
      const p = join(TMP, name);
      await Deno.writeTextFile(p, typeof value === "string" ? value : JSON.stringify(value));
      return p;
    };
    const req = (over: Record<string, unknown>) => [{
      subject: "France",
      prompt: "The capital of France is",
      target_new: "Rome",
      ...over,
    }];
    const longTarget = Array.from({ length: 40 }, () => "Paris").join(" ");
    const empty = join(TMP, "empty-model");
    await Deno.mkdir(empty, { recursive: true });
    const cases: [string, string[], number, RegExp][] = [
      [
        "empty prompt",
        ["--requests", await file("r-empty.json", req({ prompt: "  " }))],
        1,
        /record 0: field prompt: expected a non-empty string, got blank string/,
      ],
      [
        "empty --prompt",
        ["--prompt", "", "--target", "Rome"],
        1,
        /field (subject|prompt): expected a non-empty string/,
      ],
      [
        "unknown word in the target",
        ["--requests", await file("r-unk.json", req({ target_new: "Zanzibar" }))],
        1,
        /record 0: field target_new: .*Zanzibar.* contains words the tokenizer does not know/,
      ],
      [
        "target longer than the context",
        ["--requests", await file("r-long.json", req({ target_new: longTarget }))],
        1,
        /exceeds the model's context of 32 tokens/,
      ],
      [
        "request file is not JSON",
        ["--requests", await file("r-bad.json", "[{")],
        1,
        /invalid JSON/,
      ],
      ["not a model folder", ["--model", empty], 1, /config\.json: cannot read/],
      // The whole of stderr (after Deno's own wait for node_modules' lock, if it came): no note
      // about the folder's hyperparameter file before the error.
      [
        "no such model folder",
        ["--model", join(TMP, "nope")],
        1,
        /^(Blocking waiting for file lock[^\n]*\n)?error: --model \S+: no such folder\s*$/,
      ],
      [
        "hparams with an unknown key",
        ["--hparams", await file("h-unk.json", { igStep: 2 })],
        1,
        /key igStep: unknown key \(allowed: igSteps/,
      ],
      [
        "hparams out of range",
        ["--hparams", await file("h-range.json", { topP: 2 })],
        1,
        /key topP: expected a number in \(0, 1\], got 2/,
      ],
      [
        "hparams of the wrong type",
        ["--hparams", await file("h-type.json", { steps: "many" })],
        1,
        /key steps: expected an integer in \[1, 10000\], got "many"/,
      ],
      ["hparams not JSON", ["--hparams", await file("h-bad.json", "{igSteps:")], 1, /invalid JSON/],
      ["missing hparams file", ["--hparams", join(TMP, "none.json")], 1, /cannot read/],
      ["bad --mode", ["--mode", "parallel"], 2, /--mode must be single, batch or sequential/],
      ["bad --backend", ["--backend", "cuda"], 2, /--backend must be webgpu, wasm or auto/],
      ["bad --method", ["--method", "rome2"], 2, /--method must be one of/],
      ["bad --n", ["--n", "0"], 2, /--n must be a positive integer/],
      ["bad --seed", ["--seed", "1.5"], 2, /--seed must be an integer/],
      ["unknown option", ["--frobnicate"], 2, /Unknown option '--frobnicate'/],
      ["--resume without --out", ["--resume"], 2, /--resume needs --out/],
      ["--target alone", ["--target", "Rome"], 2, /--prompt and --target go together/],
    ];
    for (const [what, extra, code, re] of cases) {
      const out = join(TMP, `bad-${what.replace(/\W+/g, "-")}`);
      const args = ["--model", MODEL, "--requests", REQUESTS, "--out", out, ...FAST];
      // Later options win in parseArgs, so each case overrides the defaults above; request and
      // prompt options conflict, so the prompt cases drop --requests.
      const full = extra.includes("--prompt") || extra.includes("--target")
        ? [...args.filter((a) => a !== "--requests" && a !== REQUESTS), ...extra]
        : extra.includes("--resume")
        ? ["--model", MODEL, "--requests", REQUESTS, ...FAST, ...extra]
        : [...args, ...extra];
      const r = await runEdit(full);
      assert.equal(r.code, code, `${what}: ${show(r)}`);
      assert.match(r.stderr, re, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /m, what);
      assert.equal(await exists(out), false, `${what}: OUT created`);
      assert.equal(await exists(`${out}.partial`), false, `${what}: OUT.partial created`);
      FAULTS.add("bad input", 1);
    }
    await modelIntact();
  },
});

Deno.test({
  name: "--plan prints the plan and creates nothing; a 70B folder is refused before loading",
  ...opts,
  fn: async () => {
    const out = join(TMP, "plan");
    const p = await runEdit([...base(out), "--plan"]);
    assert.equal(p.code, 0, show(p));
    assert.match(p.stdout, /memory plan: GPT2LMHeadModel, 2 layers/);
    assert.match(p.stdout, /fits: yes/);
    assert.equal(await exists(out), false);
    const big = join(TMP, "llama-70b");
    await Deno.mkdir(big);
    await Deno.copyFile(join(FIXTURES, "tiny-llama/tokenizer.json"), join(big, "tokenizer.json"));
    await Deno.writeTextFile(
      join(big, "config.json"),
      JSON.stringify({
        architectures: ["LlamaForCausalLM"],
        hidden_size: 8192,
        intermediate_size: 28672,
        num_attention_heads: 64,
        num_key_value_heads: 8,
        num_hidden_layers: 80,
        max_position_embeddings: 8192,
        vocab_size: 128256,
        bos_token_id: 1,
        eos_token_id: 2,
      }),
    );
    // A header-only checkpoint: nothing is ever read past it.
    const header = new TextEncoder().encode(JSON.stringify({ __metadata__: { format: "pt" } }));
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(header.length), true);
    await Deno.writeFile(join(big, "model.safetensors"), new Uint8Array([...len, ...header]));
    const args = ["--model", big, "--prompt", "The capital of France is", "--target", "Rome"];
    const bp = await runEdit([...args, "--out", out, ...FAST, "--plan"]);
    assert.equal(bp.code, 1, show(bp));
    assert.match(bp.stdout, /70,553,706,496 parameters/);
    assert.match(bp.stdout, /fits: NO/);
    // With --json, the same verdict as one JSON object (it used to print the text).
    const bj = await runEdit([...args, "--out", out, ...FAST, "--plan", "--json"]);
    assert.equal(bj.code, 1, show(bj));
    const planJson = JSON.parse(bj.stdout);
    assert.equal(planJson.fits, false);
    assert.ok(planJson.problems.some((p: string) => /wasm32 memory is capped at 4 GiB/.test(p)));
    assert.equal(planJson.plan.params.total, 70_553_706_496);
    const run = await runEdit([...args, "--out", out, ...FAST]);
    assert.equal(run.code, 1, show(run));
    assert.match(run.stderr, /does not fit .*\n.*wasm32 memory is capped at 4 GiB/);
    assert.match(run.stderr, /before reading any weight/);
    assert.equal(await exists(out), false);
    assert.equal(await exists(`${out}.partial`), false);
    FAULTS.add("70B model", 2);
  },
});

Deno.test({
  name: "WebGPU device lost mid-run: stops cleanly (exit 3), records saved, --resume finishes",
  ignore: !hasWebGpu,
  ...opts,
  fn: async () => {
    const out = join(TMP, "lost");
    const args = [
      "--model",
      MODEL,
      "--requests",
      REQUESTS,
      "--hparams",
      QUICK,
      "--n",
      "3",
      "--no-fluency",
      "--out",
      out,
    ];
    const r = await runEdit([...args, "--backend", "webgpu"], { KNE_FAULT_DEVICE_LOST_AFTER: "1" });
    assert.equal(r.code, 3, show(r));
    assert.match(r.stderr, /fault injection: destroying the WebGPU device/);
    assert.match(
      r.stderr,
      /the WebGPU device was lost \(.*\) during the run; 1 finished record is saved in .*lost\.partial\/records\.jsonl; rerun with --resume --out .*lost to continue \(add --backend wasm/,
    );
    assert.equal(await exists(out), false);
    assert.equal((await recordsIn(join(`${out}.partial`, "records.jsonl"))).length, 1);
    const resumed = await runEdit([...args, "--backend", "wasm", "--resume"]);
    assert.equal(resumed.code, 0, show(resumed));
    const m = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    assert.deepEqual(m.perRecord.map((x: { index: number }) => x.index), [0, 1, 2]);
    await modelIntact();
    FAULTS.add("WebGPU device lost (CLI)", 1);
  },
});

Deno.test({
  name: "--resume with no OUT.partial says that a new run starts",
  ...opts,
  fn: async () => {
    // A mistyped --out started the whole run again without a word.
    const out = join(TMP, "nothing-to-resume");
    const r = await runEdit([...base(out), "--n", "1", "--resume"]);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stderr,
      /note: --resume: no .*nothing-to-resume\.partial to continue; a new run/,
    );
    assert.ok(await exists(join(out, "metrics.json")));
    await modelIntact();
  },
});

Deno.test({
  name: "a target the model already answers is edited with a note saying so",
  ...opts,
  fn: async () => {
    // The tiny model answers "old" here: the edit changed weights with no word (100 -> 100).
    const out = join(TMP, "already");
    const r = await runEdit([
      ...["--model", MODEL, "--prompt", "The capital of France is", "--target", "old"],
      ...["--hparams", QUICK, "--out", out, ...FAST],
    ]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /#0 .* -> old: edit succ 100 -> /);
    const note = r.stderr.split("\n").find((l) => l.startsWith("note: #0:")) ?? "";
    assert.ok(
      note.includes('the model already answers "old" to this prompt before its edit') &&
        note.includes("(Edit Succ. before is already 100 for this record); it is edited anyway"),
      show(r),
    );
    // A target it does not answer gets no such note.
    const other = await runEdit([...base(join(TMP, "not-already")), "--n", "1"]);
    assert.equal(other.code, 0, show(other));
    assert.doesNotMatch(other.stderr, /already answers/);
    await modelIntact();
  },
});

Deno.test({
  name: "the model folders are byte-identical after all runs",
  ...opts,
  fn: async () => {
    await modelIntact();
    assert.deepEqual(await hashTree(join(FIXTURES, "tiny-gpt2")), FIXTURE_HASH);
    await Deno.remove(TMP, { recursive: true });
  },
});
