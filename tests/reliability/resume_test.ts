// What --resume promises (src/pipeline/run.ts): a record counts as finished only when its patch is
// on disk; a resume redoes records whose patch is missing or unreadable, removes whatever a
// crashed run left besides its manifest, records and their patches (cut files, temporary files,
// final outputs), rebuilds every final output, and refuses a model whose weights changed.
// Crashes are reproduced by taking a finished output back to its OUT.partial state and damaging
// it as the disk-full and SIGKILL reproductions did, and by a real SIGKILL right after
// records.jsonl gains a line (KNE_FAULT_KILL_AFTER of scripts/edit.ts). A sequence resumes from the
// model its saved edits left and ends as the uninterrupted run does, bit for bit.

import assert from "node:assert/strict";
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { copyModel, exists, FAST, recordsIn, REQUESTS, runEdit } from "./cli_helpers.ts";
import { FAULTS } from "./counts.ts";

const TMP = await Deno.makeTempDir({ prefix: "kne-resume-" });
const MODEL = await copyModel("tiny-gpt2", join(TMP, "model"));
const HP = join(TMP, "quick.json");
await Deno.writeTextFile(HP, JSON.stringify({ igSteps: 2, steps: 8 }));
const args = (out: string, n: number, model = MODEL) => [
  "--model",
  model,
  "--requests",
  REQUESTS,
  "--hparams",
  HP,
  "--out",
  out,
  "--n",
  String(n),
  ...FAST,
];
const opts = { sanitizeResources: false, sanitizeOps: false };

/** A finished run of `n` records, turned back into the OUT.partial its crash would leave. */
async function crashed(name: string, n: number): Promise<{ out: string; partial: string }> {
  const out = join(TMP, name);
  const r = await runEdit(args(out, n));
  assert.equal(r.code, 0, r.stderr);
  await Deno.rename(out, `${out}.partial`);
  return { out, partial: `${out}.partial` };
}

Deno.test({
  name: "resume of a one-record run whose final outputs were cut: all rebuilt, exit 0",
  ...opts,
  fn: async () => {
    const { out, partial } = await crashed("one", 1);
    // As a full disk left it: no weights, no patch, a cut tokenizer, temporary files.
    await Deno.remove(join(partial, "model/model.safetensors"));
    await Deno.remove(join(partial, "patch.safetensors"));
    await Deno.remove(join(partial, "ensemble.json"));
    await Deno.writeTextFile(join(partial, "model/tokenizer.json"), '{"version": "1.0", "mod');
    await Deno.writeTextFile(join(partial, ".patch.safetensors.123-abc.tmp"), "half");
    const r = await runEdit([...args(out, 1), "--resume"]);
    assert.equal(r.code, 0, r.stderr);
    for (
      const f of [
        "model/model.safetensors",
        "patch.safetensors",
        "ensemble.json",
        "attribution.svg",
        "metrics.json",
      ]
    ) {
      assert.ok(await exists(join(out, f)), `${f} missing after the resume`);
    }
    JSON.parse(await Deno.readTextFile(join(out, "model/tokenizer.json")));
    const names = [...Deno.readDirSync(out)].map((e) => e.name);
    assert.ok(!names.some((n) => n.endsWith(".tmp")), names.join(", "));
    assert.equal((await recordsIn(join(out, "records.jsonl"))).length, 1);
    // The rebuilt metrics carry the CounterFact scores beside the KnowEdit ones.
    const m = JSON.parse(await Deno.readTextFile(join(out, "metrics.json")));
    for (const k of ["editSucc", "efficacy", "paraphrase", "neighborhood", "cfScore"]) {
      assert.ok(Number.isFinite(m.mean[k]), `mean ${k}: ${m.mean[k]}`);
    }
    assert.ok([0, 1].includes(m.perRecord[0].after.efficacy));
    FAULTS.add("resume after a full disk", 1);
  },
});

Deno.test({
  name: "a record whose patch is missing or cut is redone on resume",
  ...opts,
  fn: async () => {
    const { out, partial } = await crashed("patches", 3);
    const before = await recordsIn(join(partial, "records.jsonl"));
    assert.equal(before.length, 3);
    await Deno.remove(join(partial, "patches/record-0.safetensors"));
    const cut = join(partial, "patches/record-1.safetensors");
    const bytes = await Deno.readFile(cut);
    await Deno.writeFile(cut, bytes.subarray(0, bytes.length >> 1));
    const r = await runEdit([...args(out, 3), "--resume"]);
    assert.equal(r.code, 0, r.stderr);
    for (const i of [0, 1, 2]) {
      assert.ok(await exists(join(out, `patches/record-${i}.safetensors`)), `patch ${i}`);
    }
    const after = await recordsIn(join(out, "records.jsonl"));
    assert.deepEqual(after.map((x) => x.index).sort(), [0, 1, 2]);
    // The redone records were edited again: same edit, same patch bits.
    const a = await Deno.readFile(join(out, "patches/record-1.safetensors"));
    assert.deepEqual(a.length, bytes.length);
    FAULTS.add("resume with a missing or cut patch", 2);
  },
});

Deno.test({
  name: "resume refuses a model whose weights changed since the run started",
  ...opts,
  fn: async () => {
    const { out } = await crashed("swapped", 2);
    // Same path, other weights: one byte of model.safetensors changed after the crash.
    const w = join(MODEL, "model.safetensors");
    const original = await Deno.readFile(w);
    const changed = original.slice();
    changed[changed.length - 3] ^= 0x01;
    await Deno.writeFile(w, changed);
    try {
      const r = await runEdit([...args(out, 2), "--resume"]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /cannot resume .*started with other weights \(a changed weight file\)/,
      );
    } finally {
      await Deno.writeFile(w, original);
    }
    const ok = await runEdit([...args(out, 2), "--resume"]);
    assert.equal(ok.code, 0, ok.stderr);
    FAULTS.add("resume with swapped weights", 1);
  },
});

Deno.test({
  name: "SIGKILL right after records.jsonl gains a line: that record's patch is on disk",
  ...opts,
  fn: async () => {
    const ref = join(TMP, "uninterrupted");
    assert.equal((await runEdit(args(ref, 3))).code, 0);
    const out = join(TMP, "killed");
    const killed = await runEdit(args(out, 3), { KNE_FAULT_KILL_AFTER: "2" });
    assert.equal(killed.code, 137, killed.stderr);
    const partial = `${out}.partial`;
    const saved = await recordsIn(join(partial, "records.jsonl"));
    assert.equal(saved.length, 2);
    // Every record with a line has its patch, as the uninterrupted run wrote it.
    for (const r of saved) {
      const name = `patches/record-${r.index}.safetensors`;
      assert.ok(await exists(join(partial, name)), `${name} missing after the kill`);
      assert.deepEqual(
        await Deno.readFile(join(partial, name)),
        await Deno.readFile(join(ref, name)),
      );
    }
    const r = await runEdit([...args(out, 3), "--resume"]);
    assert.equal(r.code, 0, r.stderr);
    const done = await recordsIn(join(out, "records.jsonl"));
    assert.equal(done.length, 3);
    for (const x of done) {
      const name = `patches/record-${x.index}.safetensors`;
      assert.deepEqual(await Deno.readFile(join(out, name)), await Deno.readFile(join(ref, name)));
    }
    // The same files as the uninterrupted run (several single edits: per-record patches only).
    const names = (d: string) => [...Deno.readDirSync(d)].map((e) => e.name).sort();
    assert.deepEqual(names(out), names(ref));
    FAULTS.add("SIGKILL right after a record line", 1);
  },
});

// A sequence: each edit starts from the model the edits before it left, so a resume writes the
// saved edits back from their patches (not redoing them) and goes on from there. With spareHeld
// each edit also reads the earlier edits' changes, and the KL term anchors on the earlier edits.
const SEQ_HP = join(TMP, "sequential.json");
await Deno.writeTextFile(SEQ_HP, JSON.stringify({ igSteps: 2, steps: 8, spareHeld: 1 }));
const seqArgs = (out: string) => [...args(out, 4), "--mode", "sequential", "--hparams", SEQ_HP];
let seqRef: Promise<string> | null = null;
/** The uninterrupted sequence every resumed one must equal (run once, by the first test). */
function sequenceReference(): Promise<string> {
  return seqRef ??= (async () => {
    const ref = join(TMP, "seq-uninterrupted");
    const r = await runEdit(seqArgs(ref));
    assert.equal(r.code, 0, r.stderr);
    return ref;
  })();
}

/** A resumed sequence's outputs equal the uninterrupted run's, but for the seconds they took. */
async function assertSameSequence(out: string, ref: string): Promise<void> {
  const timeless = (r: Record<string, unknown>) => ({ ...r, seconds: 0, timings: {} });
  const metrics = async (d: string) => {
    const m = JSON.parse(await Deno.readTextFile(join(d, "metrics.json")));
    return { ...m, perRecord: m.perRecord.map(timeless), secondsPerEdit: null };
  };
  const [got, want] = [await metrics(out), await metrics(ref)];
  assert.equal(got.records, 4);
  assert.deepEqual(got, want);
  assert.ok(want.retention.length > 0 && Number.isFinite(want.sequentialEditSucc));
  const records = async (d: string) => (await recordsIn(join(d, "records.jsonl"))).map(timeless);
  assert.deepEqual(await records(out), await records(ref));
  for (const f of ["patch.safetensors", "model/model.safetensors", "retention.jsonl"]) {
    assert.deepEqual(await Deno.readFile(join(out, f)), await Deno.readFile(join(ref, f)), f);
  }
}

Deno.test({
  name: "a sequence killed after its second record resumes from the model its edits left",
  ...opts,
  fn: async () => {
    const ref = await sequenceReference();
    const out = join(TMP, "seq-killed");
    const killed = await runEdit(seqArgs(out), { KNE_FAULT_KILL_AFTER: "2" });
    assert.equal(killed.code, 137, killed.stderr);
    assert.equal((await recordsIn(join(`${out}.partial`, "records.jsonl"))).length, 2);
    const r = await runEdit([...seqArgs(out), "--resume"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /2 finished record\(s\) kept, their edits written back from their patches/,
    );
    await assertSameSequence(out, ref);
    FAULTS.add("SIGKILL in a sequence, resumed", 1);
  },
});

Deno.test({
  name: "a sequence whose second patch is missing redoes every edit from the second on",
  ...opts,
  fn: async () => {
    const ref = await sequenceReference();
    const out = join(TMP, "seq-cut");
    // The finished run taken back to the OUT.partial a crash at its end would leave.
    await cp(ref, `${out}.partial`, { recursive: true });
    await Deno.remove(join(`${out}.partial`, "patches/record-1.safetensors"));
    const r = await runEdit([...seqArgs(out), "--resume"]);
    assert.equal(r.code, 0, r.stderr);
    await assertSameSequence(out, ref);
    FAULTS.add("resume of a sequence with a missing patch", 1);
  },
});

Deno.test({
  name: "a batch's records are redone on resume (its one edit has no patch until the end)",
  ...opts,
  fn: async () => {
    const out = join(TMP, "batch");
    const batch = [...args(out, 2), "--mode", "batch"];
    assert.equal((await runEdit(batch)).code, 0);
    // The run's one patch, and no folder of per-record patches (README's output table).
    assert.ok(await exists(join(out, "patch.safetensors")));
    assert.equal(await exists(join(out, "patches")), false);
    const want = await recordsIn(join(out, "records.jsonl"));
    await Deno.rename(out, `${out}.partial`);
    await Deno.remove(join(`${out}.partial`, "patch.safetensors"));
    const r = await runEdit([...batch, "--resume"]);
    assert.equal(r.code, 0, r.stderr);
    const got = await recordsIn(join(out, "records.jsonl"));
    const timeless = (x: Record<string, unknown>) => ({ ...x, seconds: 0, timings: {} });
    assert.deepEqual(got.map(timeless), want.map(timeless));
    assert.ok(await exists(join(out, "patch.safetensors")));
    assert.equal(await exists(join(out, "patches")), false);
    FAULTS.add("resume of a batch", 1);
  },
});
