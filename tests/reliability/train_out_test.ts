// The training command's --out under the edit command's output rules, as a subprocess on a tiny
// shape: an existing folder of the user's is never removed (it was replaced by the trained model
// at the end of the run, without --force), nor are a user's OUT.partial or OUT.checkpoint, nor a
// device node; a folder this tool trained is replaced with --force and nothing is left beside it.

import assert from "node:assert/strict";
import { join } from "node:path";
import { exists, hashTree, ROOT, type RunResult } from "./cli_helpers.ts";
import { FAULTS } from "./counts.ts";

const TMP = await Deno.makeTempDir({ prefix: "kne-train-out-" });
const TINY = ["--epochs", "1", "--d", "16", "--layers", "1", "--heads", "2", "--batch", "128"];

function train(out: string, extra: string[] = []): Promise<RunResult> {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts/train.ts"), "--out", out, ...TINY, ...extra],
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
      ["an existing folder", [docs], /docs exists; choose another --out or pass --force/],
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
