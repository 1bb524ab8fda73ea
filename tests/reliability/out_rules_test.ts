// The training and comparison commands' --out under the edit command's output rules, as
// subprocesses on tiny shapes. train: an existing folder of the user's is never removed (it was
// replaced by the trained model at the end of the run, without --force), nor are a user's
// OUT.partial or OUT.checkpoint, nor a device node; a folder this tool trained is replaced with
// --force and nothing is left beside it. compare: OUT never lies inside the model folder (it
// wrote its results there) nor holds an input, and --force writes only into its own outputs.

import assert from "node:assert/strict";
import { join } from "node:path";
import { copyModel, exists, hashTree, ROOT, type RunResult } from "./cli_helpers.ts";
import { FAULTS } from "./counts.ts";

const TMP = await Deno.makeTempDir({ prefix: "kne-train-out-" });
const TINY = ["--epochs", "1", "--d", "16", "--layers", "1", "--heads", "2", "--batch", "128"];

function script(name: string, args: string[]): Promise<RunResult> {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts", name), ...args],
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

const train = (out: string, extra: string[] = []) =>
  script("train.ts", ["--out", out, ...TINY, ...extra]);

/** A folder of the user's with one file in it. */
async function userFolder(path: string): Promise<string> {
  await Deno.mkdir(path, { recursive: true });
  await Deno.writeTextFile(join(path, "thesis.txt"), "precious");
  return path;
}

Deno.test({
  name: "train --out: a folder, OUT.partial or OUT.checkpoint of the user's is never removed",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const docs = await userFolder(join(TMP, "docs"));
    await userFolder(join(TMP, "b.partial"));
    await userFolder(join(TMP, "c.checkpoint"));
    const before = await hashTree(TMP);
    const cases: [string, string[], RegExp][] = [
      // Deleted at the end of the run, without --force, before the rules applied.
      ["an existing folder", [docs], /docs was not written by this tool/],
      ["an existing folder, --force", [docs, "--force"], /docs was not written by this tool/],
      ["a user's OUT.partial", [join(TMP, "b")], /b\.partial was not written by this tool/],
      ["a user's OUT.checkpoint", [join(TMP, "c")], /c\.checkpoint was not written by this tool/],
      ["a device node, --force", ["/dev/null", "--force"], /\/dev\/null is a device/],
    ];
    for (const [what, [out, ...extra], re] of cases) {
      const r = await train(out, extra);
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, re, what);
      FAULTS.add("train --out onto foreign paths", 1);
    }
    assert.deepEqual(await hashTree(TMP), before, "a user's file changed");
    assert.equal((await Deno.stat("/dev/null")).isCharDevice, true);
    // A folder this tool trained carries the marker and is replaced with --force.
    const out = join(TMP, "model");
    assert.equal((await train(out)).code, 0);
    assert.ok(await exists(join(out, ".kne-output")));
    const again = await train(out, ["--force", "--seed", "2"]);
    assert.equal(again.code, 0, again.stderr);
    for (const left of [".partial", ".checkpoint", ".old", ".lock"]) {
      assert.equal(await exists(out + left), false, `${out}${left} left behind`);
    }
  },
});

Deno.test({
  name: "compare --out: never inside the model, nor over an input or a folder of the user's",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const model = await copyModel("tiny-gpt2", join(TMP, "cmp-model"));
    const modelHash = await hashTree(model);
    const user = await userFolder(join(TMP, "cmp-user"));
    await Deno.writeTextFile(join(user, "comparison.md"), "my notes");
    const userHash = await hashTree(user);
    const requests = join(TMP, "cmp-in", "requests.json");
    await Deno.mkdir(join(TMP, "cmp-in"));
    await Deno.copyFile(join(ROOT, "tests/fixtures/requests-tiny.json"), requests);
    const compare = (out: string, extra: string[] = []) =>
      script("compare.ts", [
        "--model",
        model,
        "--requests",
        requests,
        "--n",
        "1",
        "--methods",
        "ft-l",
        "--backend",
        "wasm",
        "--no-fluency",
        "--out",
        out,
        ...extra,
      ]);
    const cases: [string, string, string[], RegExp][] = [
      // It wrote its comparison into the model folder with exit 0.
      ["inside the model", join(model, "cmp"), [], /lies inside the input model folder/],
      ["the requests' folder", join(TMP, "cmp-in"), ["--force"], /would replace the input/],
      ["a folder of the user's", user, ["--force"], /cmp-user was not written by this tool/],
      ["a control character", join(TMP, "cmp-x"), ["--n", "\x1b[2J"], /got "\\u001b\[2J"/],
    ];
    for (const [what, out, extra, re] of cases) {
      const r = await compare(out, extra);
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, re, what);
      assert.ok(!r.stderr.includes("\x1b"), `${what}: a raw control character`);
      FAULTS.add("compare --out onto inputs or foreign paths", 1);
    }
    assert.deepEqual(await hashTree(model), modelHash, "the model folder changed");
    assert.deepEqual(await hashTree(user), userHash, "the user's folder changed");
    assert.ok(await exists(requests));
  },
});

Deno.test({
  name: "--force replaces only the same command's output: never a trained model or a comparison",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const model = await copyModel("tiny-gpt2", join(TMP, "kind-model"));
    /** A folder another command wrote: its marker and one file of its results. */
    const written = async (name: string, kind: string) => {
      const dir = join(TMP, name);
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(join(dir, ".kne-output"), JSON.stringify({ tool: "kne", kind }));
      await Deno.writeTextFile(join(dir, "results.json"), "{}");
      return dir;
    };
    const trained = await written("kind-trained", "train");
    const comparison = await written("kind-compare", "compare");
    const edited = await written("kind-edit", "edit");
    const before = await hashTree(TMP);
    const trace = (out: string) =>
      script("trace.ts", [
        ...["--model", model, "--prompt", "a b", "--subject", "a", "--samples", "1"],
        ...["--backend", "wasm", "--out", out, "--force"],
      ]);
    const cases: [string, () => Promise<RunResult>, RegExp][] = [
      // The trace replaced the trained model's folder with its heatmaps (exit 0).
      ["trace over a trained model", () => trace(trained), /holds a trained model/],
      ["trace over an edit", () => trace(edited), /holds an edit's results/],
      // patch apply replaced a finished comparison with a patched model.
      [
        "patch over a comparison",
        () =>
          script("patch.ts", [
            ...["apply", "--patch", join(TMP, "none.safetensors"), "--model", model],
            ...["--out", comparison, "--force"],
          ]),
        /holds a comparison \(deno task compare\), not a patched model/,
      ],
      [
        "edit over a trained model",
        () =>
          script("edit.ts", [
            ...["--model", model, "--prompt", "a b", "--target", "c"],
            ...["--backend", "wasm", "--no-fluency", "--out", trained, "--force"],
          ]),
        /holds a trained model \(deno task train\), not an edit's results/,
      ],
    ];
    for (const [what, run, re] of cases) {
      const r = await run();
      assert.notEqual(r.code, 0, `${what}: ${r.stderr}`);
      assert.match(r.stderr, re, what);
      assert.match(r.stderr, /even with --force/, what);
      FAULTS.add("--force onto another command's output", 1);
    }
    assert.deepEqual(await hashTree(TMP), before, "a folder changed");
  },
});
