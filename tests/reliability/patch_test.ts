// The patch command (scripts/patch.ts) as a careless or hostile user runs it, as a subprocess on
// copies of the tiny GPT-2 fixture: its --out follows the edit command's rules (never the model
// folder, a parent or a child of it, nor the patch file; only a folder this tool wrote is
// replaced, whatever --force says; device nodes and links are never replaced); and a patch
// applies only to the weights it was made for (its `before` values, or `after` to revert).

import assert from "node:assert/strict";
import { join } from "node:path";
import { writePatch } from "../../src/io/patch.ts";
import { openSafetensors } from "../../src/io/safetensors.ts";
import { copyModel, exists, hashTree, ROOT, type RunResult } from "./cli_helpers.ts";
import { FAULTS } from "./counts.ts";

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
      // The reproduction: the model's parent was deleted with --force.
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
