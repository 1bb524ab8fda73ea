// `deno task train --init DIR`: a run starts from a trained model's weights (at learning rate 0
// the result is that model, bit for bit; from random weights it would not be), its card and
// recall.json list the runs that trained DIR, and a DIR of another shape, trained with another
// tokenizer, not written by the training tool, or lacking a parameter is refused (exit 2) before
// any training.

import { deepEqual, equal, match } from "node:assert/strict";
import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.ts";

const TRAIN = new URL("../../scripts/train.ts", import.meta.url).pathname;
const TINY = ["--epochs", "1", "--d", "16", "--layers", "1", "--heads", "2", "--batch", "128"];

async function train(out: string, extra: string[] = []): Promise<{ code: number; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, "--out", out, ...TINY, "--warmup", "5", ...extra],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

async function tensors(path: string): Promise<Map<string, Float32Array>> {
  const f = await openSafetensors(path);
  try {
    const out = new Map<string, Float32Array>();
    for (const name of f.tensors.keys()) out.set(name, await f.read(name));
    return out;
  } finally {
    f.close();
  }
}

Deno.test("--init starts from a trained model's weights and its card lists that model's runs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await train(`${dir}/a`);
    equal(a.code, 0, a.stderr);
    const b = await train(`${dir}/b`, ["--init", `${dir}/a`, "--lr", "0", "--seed", "5"]);
    equal(b.code, 0, b.stderr);
    match(b.stderr, /starting from the weights of .*\/a \(\d+ steps\)/);
    const wa = await tensors(`${dir}/a/model.safetensors`);
    const wb = await tensors(`${dir}/b/model.safetensors`);
    deepEqual([...wb.keys()], [...wa.keys()]);
    for (const [name, v] of wa) deepEqual(wb.get(name), v, name);
    // Another seed's random weights differ from the first model's: the test can tell them apart.
    const c = await train(`${dir}/c`, ["--lr", "0", "--seed", "5"]);
    equal(c.code, 0, c.stderr);
    const wc = await tensors(`${dir}/c/model.safetensors`);
    const [first] = wa.keys();
    if (String(wc.get(first)) === String(wa.get(first))) throw new Error("seeds gave one init");

    const ra = JSON.parse(await Deno.readTextFile(`${dir}/a/recall.json`));
    const rb = JSON.parse(await Deno.readTextFile(`${dir}/b/recall.json`));
    equal(rb.initFrom.model, `${dir}/a`);
    deepEqual(rb.initFrom.runs, ra.runs);
    equal(rb.initFrom.steps, ra.steps);
    match(rb.initFrom.weightsSha256, /^[0-9a-f]{64}$/);
    const card = await Deno.readTextFile(`${dir}/b/README.md`);
    match(card, /Initialised from the weights of `[^`]*\/a`/);
    match(card, new RegExp(`1\\. \`deno task train --out ${dir}/a `));
    const total = ra.steps + rb.steps;
    match(
      card,
      new RegExp(
        `With the\\s+training\\s+of\\s+the\\s+model\\s+it\\s+started\\s+from:.*${total}\\s+steps`,
        "s",
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--init refuses a model of another shape, tokenizer or origin (exit 2)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await train(`${dir}/a`);
    equal(a.code, 0, a.stderr);
    const wider = await train(`${dir}/w`, ["--init", `${dir}/a`, "--d", "24"]);
    equal(wider.code, 2, wider.stderr);
    match(wider.stderr, /another shape than this run's \(.*dModel 16 vs 24/);

    // The same model beside another tokenizer file (same vocabulary, other bytes).
    await Deno.mkdir(`${dir}/t`);
    for (const f of ["config.json", "model.safetensors", "recall.json"]) {
      await Deno.copyFile(`${dir}/a/${f}`, `${dir}/t/${f}`);
    }
    const tok = JSON.parse(await Deno.readTextFile(`${dir}/a/tokenizer.json`));
    await Deno.writeTextFile(`${dir}/t/tokenizer.json`, JSON.stringify(tok, null, 1));
    const other = await train(`${dir}/o`, [
      "--init",
      `${dir}/t`,
      "--tokenizer",
      `${dir}/a/tokenizer.json`,
    ]);
    equal(other.code, 2, other.stderr);
    match(other.stderr, /trained with another tokenizer than this run's/);

    await Deno.remove(`${dir}/t/recall.json`);
    const foreign = await train(`${dir}/f`, ["--init", `${dir}/t`]);
    equal(foreign.code, 2, foreign.stderr);
    match(foreign.stderr, /recall\.json.*--init takes a model folder written by deno task train/s);
    for (const out of ["w", "o", "f"]) {
      const left = await Deno.stat(`${dir}/${out}`).then(() => true, () => false);
      equal(left, false, `a refused run left ${out}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--init refuses, before any training, a model whose weights lack a parameter", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await train(`${dir}/a`);
    equal(a.code, 0, a.stderr);
    await Deno.mkdir(`${dir}/m`);
    for (const f of ["config.json", "recall.json", "tokenizer.json"]) {
      await Deno.copyFile(`${dir}/a/${f}`, `${dir}/m/${f}`);
    }
    const all = await tensors(`${dir}/a/model.safetensors`);
    const [dropped] = all.keys();
    const f = await openSafetensors(`${dir}/a/model.safetensors`);
    const kept = [...all].filter(([n]) => n !== dropped).map(([name, data]) => ({
      name,
      shape: [...f.tensors.get(name)!.shape],
      data,
    }));
    f.close();
    await writeSafetensors(`${dir}/m/model.safetensors`, kept, { format: "pt" });
    const r = await train(`${dir}/o`, ["--init", `${dir}/m`]);
    equal(r.code, 2, r.stderr);
    match(
      r.stderr,
      new RegExp(`model\\.safetensors has no tensor ${dropped.replaceAll(".", "\\.")}`),
    );
    equal(await Deno.stat(`${dir}/o`).then(() => true, () => false), false, "a refused run left o");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
