// The patch command end to end: `scripts/edit.ts` writes an edited checkpoint and a sparse patch;
// `scripts/patch.ts apply` on the original model reproduces the edited weights bit for bit, and
// `revert` on the edited model reproduces the original ones.

import { equal } from "node:assert/strict";
import { openSafetensors } from "../../src/io/safetensors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MODEL = `${ROOT}tests/fixtures/tiny-gpt2`;

async function run(script: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/${script}`, ...args],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  equal(r.code, 0, `${script} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

/** Raw bytes of every tensor (all files here are F32), by name without the transformer. prefix. */
async function tensors(dir: string): Promise<Map<string, Uint8Array>> {
  const f = await openSafetensors(`${dir}/model.safetensors`);
  const out = new Map<string, Uint8Array>();
  try {
    for (const name of f.tensors.keys()) {
      out.set(
        name.replace(/^transformer\./, ""),
        await f.readRaw(name),
      );
    }
  } finally {
    f.close();
  }
  return out;
}

function assertSameBits(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>, what: string) {
  equal(a.size, b.size, `${what}: tensor count`);
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || x.length !== y.length || x.some((v, i) => v !== y[i])) {
      throw new Error(`${what}: ${name} differs`);
    }
  }
}

Deno.test("patch apply and revert reproduce the edited and original weights bit for bit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await run("edit.ts", [
      "--model",
      MODEL,
      "--prompt",
      "The capital of France is",
      "--target",
      "Tokyo",
      "--backend",
      "wasm",
      "--no-fluency",
      "--out",
      `${dir}/edit`,
    ]);
    const patch = `${dir}/edit/patch.safetensors`;
    await run("patch.ts", ["apply", "--patch", patch, "--model", MODEL, "--out", `${dir}/applied`]);
    await run("patch.ts", [
      "revert",
      "--patch",
      patch,
      "--model",
      `${dir}/edit/model`,
      "--out",
      `${dir}/reverted`,
    ]);
    const original = await tensors(MODEL);
    const edited = await tensors(`${dir}/edit/model`);
    assertSameBits(await tensors(`${dir}/applied`), edited, "apply");
    assertSameBits(await tensors(`${dir}/reverted`), original, "revert");
    let differs = false;
    for (const [k, v] of edited) if (v.some((x, i) => x !== original.get(k)![i])) differs = true;
    if (!differs) throw new Error("the edit changed nothing, so the test would prove nothing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
