// The patch command (scripts/patch.ts) as a careless or hostile user runs it, as a subprocess on
// copies of the tiny GPT-2 fixture: its --out follows the edit command's rules (never the model
// folder, a parent or a child of it, nor the patch file; only a folder this tool wrote is
// replaced, whatever --force says; device nodes and links are never replaced); and a patch
// applies only to the weights it was made for (its `before` values, or `after` to revert) unless
// --other-weights says otherwise (--force only replaces the output folder); Ctrl-C removes what
// it had begun to write and its lock, and leaves OUT as it was.

import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { SafetensorsError } from "../../src/io/errors.ts";
import { applyPatchTo, type PatchEntry, writePatch } from "../../src/io/patch.ts";
import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.ts";
import { copyModel, exists, hashTree, ROOT, type RunResult } from "./cli_helpers.ts";
import { FAULTS, FUZZ } from "./counts.ts";

const TMP = await Deno.makeTempDir({ prefix: "kne-patch-" });
const TENSOR = "transformer.h.0.mlp.c_fc.weight";

async function tensor(model: string, name = TENSOR): Promise<Float32Array> {
  const f = await openSafetensors(join(model, "model.safetensors"));
  try {
    return await f.read(name);
  } finally {
    f.close();
  }
}

/** A patch of `model` that adds 1 to entries 3, 5 and 9 of TENSOR (its `before` is the model's). */
async function patchFor(model: string, file: string): Promise<void> {
  const w = await tensor(model);
  const indices = Uint32Array.from([3, 5, 9]);
  const before = Float32Array.from(indices, (i) => w[i]);
  await writePatch(file, [{
    name: TENSOR,
    shape: [32, 128],
    indices,
    before,
    after: before.map((x) => x + 1),
  }]);
}

function patchCmd(args: string[]): Promise<RunResult> {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts/patch.ts"), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output().then((o) => ({
    code: o.code,
    stdout: new TextDecoder().decode(o.stdout),
    stderr: new TextDecoder().decode(o.stderr),
  }));
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "patch --out: never the model, a parent or child of it, the patch, or a foreign folder",
  ...opts,
  fn: async () => {
    const x = join(TMP, "x");
    const model = await copyModel("tiny-gpt2", join(x, "model"));
    await Deno.writeTextFile(join(x, "notes.txt"), "keep");
    const patch = join(TMP, "p", "patch.safetensors");
    await Deno.mkdir(join(TMP, "p"));
    await patchFor(model, patch);
    const modelHash = await hashTree(model);
    const foreign = join(TMP, "foreign");
    await Deno.mkdir(foreign);
    await Deno.writeTextFile(join(foreign, "keep.txt"), "precious");
    const link = join(TMP, "link");
    await Deno.symlink(foreign, link);
    const run = (out: string, force = true) =>
      patchCmd([
        "apply",
        "--patch",
        patch,
        "--model",
        model,
        "--out",
        out,
        ...(force ? ["--force"] : []),
      ]);
    const cases: [string, string, RegExp][] = [
      // The issue's reproduction: the model's parent was deleted with --force.
      ["a parent of the model", x, /contains the input model folder/],
      ["the model", model, /is the input model folder/],
      ["inside the model", join(model, "sub"), /lies inside the input model folder/],
      ["the patch's folder", join(TMP, "p"), /would replace the input/],
      ["the patch file", patch, /would replace the input/],
      ["a folder this tool did not write", foreign, /not written by this tool/],
      ["a link to a folder", link, /is a symbolic link/],
      ["a device node", "/dev/null", /is a device, socket or pipe/],
    ];
    for (const [what, out, re] of cases) {
      const r = await run(out);
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, re, what);
      FAULTS.add("patch --out onto inputs or foreign paths", 1);
    }
    assert.deepEqual(await hashTree(model), modelHash, "the model changed");
    assert.equal(await Deno.readTextFile(join(x, "notes.txt")), "keep");
    assert.equal(await Deno.readTextFile(join(foreign, "keep.txt")), "precious");
    assert.ok(await exists(patch));
    assert.equal(await exists(join(model, "sub")), false);
    // An existing output needs --force, and is then replaced because this tool wrote it.
    const out = join(TMP, "applied");
    assert.equal((await run(out, false)).code, 0);
    assert.ok(await exists(join(out, ".kne-output")));
    const again = await run(out, false);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /exists; choose another --out or pass --force/);
    const forced = await run(out);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await exists(`${out}.lock`), false, "the lock is released");
    assert.equal(await exists(`${out}.partial`), false);
    const w = await tensor(model), got = await tensor(out);
    assert.equal(got[3], Math.fround(w[3] + 1));
    assert.equal(got[4], w[4]);
  },
});

Deno.test({
  name: "Ctrl-C during patch removes OUT.partial and the lock, leaves OUT as it was, exits 130",
  ...opts,
  fn: async () => {
    // It exited 130 without a word, leaving OUT.lock and OUT.partial (holding a temporary as
    // large as the model) until the next run.
    const dir = join(TMP, "sigint");
    const model = await copyModel("tiny-gpt2", join(dir, "model"));
    const patch = join(dir, "patch.safetensors");
    await patchFor(model, patch);
    const out = join(dir, "out");
    const run = (env: Record<string, string>, ...extra: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-A", join(ROOT, "scripts/patch.ts"), "apply", "--patch", patch],
          ...["--model", model, "--out", out, ...extra],
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1", ...env },
      }).output().then((o) => ({ code: o.code, stderr: new TextDecoder().decode(o.stderr) }));
    const left = async () => ({
      partial: await exists(`${out}.partial`),
      lock: await exists(`${out}.lock`),
    });
    // A real SIGINT, sent by the command to itself once OUT.partial is made, as it writes.
    const fresh = await run({ KNE_FAULT_SIGINT_AT: "write" });
    assert.equal(fresh.code, 130, fresh.stderr);
    assert.match(fresh.stderr, /^interrupted: patch apply; .*out was not written \(its /m);
    assert.match(fresh.stderr, /\(its incomplete .*out\.partial was removed\)$/m);
    assert.deepEqual(await left(), { partial: false, lock: false });
    assert.equal(await exists(out), false);
    FAULTS.add("SIGINT (patch)", 1);
    // Over an earlier output (--force): that one is kept as it was.
    assert.equal((await run({})).code, 0);
    const before = await hashTree(out);
    const forced = await run({ KNE_FAULT_SIGINT_AT: "write" }, "--force");
    assert.equal(forced.code, 130, forced.stderr);
    assert.deepEqual(await left(), { partial: false, lock: false });
    assert.deepEqual(await hashTree(out), before, "OUT changed");
    FAULTS.add("SIGINT (patch)", 1);
  },
});

Deno.test({
  name: "patch --out: the patch's folder is refused when the patch is named through a link",
  ...opts,
  fn: async () => {
    // An output folder of this tool that holds the patch (as an edit run's OUT holds its
    // patch.safetensors): --force may replace it, unless the patch read lies inside it.
    const model = await copyModel("tiny-gpt2", join(TMP, "m-link"));
    const first = join(TMP, "first.safetensors");
    await patchFor(model, first);
    const holder = join(TMP, "holder");
    const made = await patchCmd(["apply", "--patch", first, "--model", model, "--out", holder]);
    assert.equal(made.code, 0, made.stderr);
    const patch = join(holder, "patch.safetensors");
    await Deno.copyFile(first, patch);
    await Deno.symlink(holder, join(TMP, "holder-link"));
    await Deno.symlink(patch, join(TMP, "patch-link.safetensors"));
    const before = await hashTree(holder);
    for (
      const via of [
        join(TMP, "holder-link", "patch.safetensors"),
        join(TMP, "patch-link.safetensors"),
      ]
    ) {
      const r = await patchCmd([
        "apply",
        "--patch",
        via,
        "--model",
        model,
        "--out",
        holder,
        "--force",
      ]);
      assert.equal(r.code, 2, `${via}: ${r.stderr}`);
      assert.match(r.stderr, /would replace the input/, via);
      assert.deepEqual(await hashTree(holder), before, `${via}: the patch's folder changed`);
      FAULTS.add("patch --out onto inputs or foreign paths", 1);
    }
  },
});

Deno.test({
  name: "patch --help / -h print the usage and exit 0; a bad flag or argument exits 2",
  ...opts,
  fn: async () => {
    for (const args of [["--help"], ["-h"], ["apply", "--help"], ["revert", "-h", "--force"]]) {
      const r = await patchCmd(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: deno task patch apply\|revert /, args.join(" "));
      assert.match(r.stdout, /--other-weights/);
      assert.equal(r.stderr, "", args.join(" "));
    }
    for (
      const [args, re] of [
        [["apply", "--bogus"], /Unknown option '--bogus'/],
        [["apply", "extra", "--patch", "p", "--model", "m", "--out", "o"], /unexpected argument/],
        [["--patch", "p", "--model", "m", "--out", "o"], /the first argument is apply or revert/],
      ] as const
    ) {
      const r = await patchCmd([...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.match(r.stderr, /Usage: deno task patch/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  },
});

/** A copy of `model` whose TENSOR differs at `at` (another checkpoint of the same shapes). */
async function otherCheckpoint(model: string, to: string, at: number[]): Promise<string> {
  await copyModel("tiny-gpt2", to);
  const f = await openSafetensors(join(model, "model.safetensors"));
  const tensors = [];
  try {
    for (const [name, info] of f.tensors) {
      const data = await f.read(name);
      if (name === TENSOR) { for (const i of at) data[i] += 0.5; }
      tensors.push({ name, shape: info.shape, data });
    }
  } finally {
    f.close();
  }
  await writeSafetensors(join(to, "model.safetensors"), tensors, { format: "pt" });
  return to;
}

Deno.test({
  name: "a patch applies only to the model it was made for (before), reverts only its output",
  ...opts,
  fn: async () => {
    const model = await copyModel("tiny-gpt2", join(TMP, "m6"));
    const patch = join(TMP, "m6.safetensors");
    await patchFor(model, patch);
    const other = await otherCheckpoint(model, join(TMP, "other"), [5, 9]);
    const run = (dir: string, out: string, how = "apply", extra: string[] = []) =>
      patchCmd([how, "--patch", patch, "--model", dir, "--out", join(TMP, out), ...extra]);
    const r = await run(other, "mixed");
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `\\[${TENSOR.replaceAll(".", "\\.")}\\]: the model does not hold .* 2 of 3 ` +
          `entries differ from its "before" values, the first at index 5`,
      ),
    );
    assert.equal(await exists(join(TMP, "mixed")), false, "nothing written");
    // The refusal names the flag that overrides it: --other-weights, not --force.
    assert.match(r.stderr, /--other-weights applies it anyway/);
    assert.doesNotMatch(r.stderr, /--force/);
    // Reverting a model the patch did not produce (the original, which never had it applied) is
    // refused the same way, and says both possibilities rather than "another model".
    const rv = await run(model, "unreverted", "revert");
    assert.equal(rv.code, 1, rv.stderr);
    assert.match(rv.stderr, /3 of 3 entries differ from its "after" values, the first at index 3/);
    assert.match(
      rv.stderr,
      /it was not applied to these weights, or they are another model's; --other-weights reverts it anyway/,
    );
    assert.doesNotMatch(rv.stderr, /made for another model|--force/);
    assert.equal(await exists(join(TMP, "unreverted")), false, "nothing written");
    // --force only replaces the output folder: it does not apply the patch to other weights.
    const forcedOnly = await run(other, "forced", "apply", ["--force"]);
    assert.equal(forcedOnly.code, 1, forcedOnly.stderr);
    assert.match(forcedOnly.stderr, /--other-weights applies it anyway/);
    assert.equal(await exists(join(TMP, "forced")), false, "nothing written");
    // --other-weights applies it anyway, with a warning naming the tensor and index.
    const forced = await run(other, "forced", "apply", ["--other-weights"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(
      forced.stderr,
      /warning: .*2 of 3 entries differ .* applied anyway \(--other-weights\)/,
    );
    const w = await tensor(other), got = await tensor(join(TMP, "forced"));
    assert.equal(got[5], Math.fround((await tensor(model))[5] + 1), "the patch's after value");
    assert.equal(got[4], w[4]);
    // ... and with --force too, an existing output of this tool is replaced (both flags needed).
    const again = await run(other, "forced", "apply", ["--other-weights"]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /exists; choose another --out or pass --force/);
    const both = await run(other, "forced", "apply", ["--other-weights", "--force"]);
    assert.equal(both.code, 0, both.stderr);
    // Reverting the unpatched model with --other-weights writes the patch's before values.
    const rvForced = await run(model, "unreverted", "revert", ["--other-weights"]);
    assert.equal(rvForced.code, 0, rvForced.stderr);
    assert.match(rvForced.stderr, /warning: .* reverted anyway \(--other-weights\)/);
    // The model it was made for: applied, and its output reverts to the original.
    assert.equal((await run(model, "applied6")).code, 0);
    const back = await run(join(TMP, "applied6"), "reverted6", "revert");
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(await tensor(join(TMP, "reverted6")), await tensor(model));
    FAULTS.add("patch for another model", 4);
  },
});

Deno.test("applyPatchTo: refused unless every start value matches bit for bit; nothing written", () => {
  let cases = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 3 }),
      fc.constantFrom<"apply" | "revert">("apply", "revert"),
      fc.constantFrom(0.5, -0, NaN, 1e-45),
      (n, picks, flips, direction, change) => {
        cases++;
        const idx = [...new Set(picks.map((p) => p % n))].sort((a, b) => a - b);
        const entry: PatchEntry = {
          name: "w",
          shape: [n],
          indices: Int32Array.from(idx),
          before: Float32Array.from(idx, (i) => i + 0.25),
          after: Float32Array.from(idx, (i) => -i),
        };
        const start = direction === "apply" ? entry.before : entry.after;
        const w = new Float32Array(n);
        idx.forEach((i, j) => (w[i] = start[j]));
        // Entries whose value is changed (to another bit pattern: -0 differs from 0).
        const bad = [...new Set(flips.map((f) => f % idx.length))].sort((a, b) => a - b);
        for (const j of bad) w[idx[j]] = Object.is(w[idx[j]], change) ? 7 : change;
        const snapshot = w.slice();
        try {
          applyPatchTo(new Map([["w", w]]), [entry], direction);
          assert.equal(bad.length, 0, `accepted ${bad.length} differing entries`);
          const end = direction === "apply" ? entry.after : entry.before;
          idx.forEach((i, j) => assert.ok(Object.is(w[i], end[j])));
        } catch (e) {
          if (!(e instanceof SafetensorsError) || bad.length === 0) throw e;
          assert.match(
            e.message,
            new RegExp(`${bad.length} of ${idx.length} entries .* at index ${idx[bad[0]]} `),
          );
          assert.ok(w.every((x, i) => Object.is(x, snapshot[i])), "a refused patch wrote");
          // otherWeights applies it and returns one warning.
          assert.equal(
            applyPatchTo(new Map([["w", w]]), [entry], direction, { otherWeights: true })
              .length,
            1,
          );
        }
      },
    ),
    { numRuns: 1000 },
  );
  FUZZ.add("applyPatchTo start values", cases);
});
