// `deno task patch apply|revert --patch FILE --model DIR --out DIR`: writes a copy of a model
// folder with a sparse edit patch applied (the edited weights) or reverted (the original ones),
// bit for bit. The input folder is only read; the output appears atomically.

import { parseArgs } from "node:util";
import { applyPatchTo, readPatch } from "../src/io/patch.ts";
import { exactWriteDtype, openSafetensors, writeSafetensors } from "../src/io/safetensors.ts";

const USAGE = "Usage: deno task patch apply|revert --patch FILE --model DIR --out DIR [--force]";

function fail(msg: string): never {
  console.error(`error: ${msg}\n${USAGE}`);
  Deno.exit(2);
}

const { values: args, positionals } = (() => {
  try {
    return parseArgs({
      args: Deno.args,
      strict: true,
      allowPositionals: true,
      options: {
        patch: { type: "string" },
        model: { type: "string" },
        out: { type: "string" },
        force: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
})();
const direction = positionals[0];
if (direction !== "apply" && direction !== "revert") fail("the first argument is apply or revert");
if (!args.patch || !args.model || !args.out) fail("--patch, --model and --out are required");
const out = args.out.replace(/\/+$/, "");
const modelDir = args.model.replace(/\/+$/, "");
if (await Deno.stat(out).then(() => true, () => false)) {
  if (!args.force) fail(`${out} exists; pass --force to replace it`);
}
const realModel = await Deno.realPath(modelDir).catch(() =>
  fail(`no such model folder ${modelDir}`)
);
if ((await Deno.realPath(out).catch(() => "")) === realModel) {
  fail("--out must not be the input model");
}

try {
  const patch = await readPatch(args.patch);
  const file = await openSafetensors(`${modelDir}/model.safetensors`);
  const weights = new Map<string, Float32Array>();
  const shapes = new Map<string, readonly number[]>();
  const stored = new Map<string, string>();
  try {
    for (const [name, info] of file.tensors) {
      weights.set(name, await file.read(name));
      shapes.set(name, info.shape);
      stored.set(name, info.dtype);
    }
  } finally {
    file.close();
  }
  // Patches name tensors as the model does; GPT-2 files may omit the transformer. prefix.
  for (const e of patch) {
    if (!weights.has(e.name) && weights.has(e.name.replace(/^transformer\./, ""))) {
      e.name = e.name.replace(/^transformer\./, "");
    }
  }
  applyPatchTo(weights, patch, direction);
  const tmp = `${out}.tmp-${Deno.pid}`;
  await Deno.mkdir(tmp, { recursive: true });
  for await (const entry of Deno.readDir(modelDir)) {
    if (entry.isFile && entry.name !== "model.safetensors") {
      await Deno.copyFile(`${modelDir}/${entry.name}`, `${tmp}/${entry.name}`);
    }
  }
  await writeSafetensors(
    `${tmp}/model.safetensors`,
    // A half-precision tensor stays so when the patched values are exact in it (an f16 edit).
    [...weights].map(([name, data]) => ({
      name,
      shape: shapes.get(name)!,
      data,
      dtype: exactWriteDtype(data, stored.get(name)!),
    })),
    { format: "pt" },
  );
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, out);
  const n = patch.reduce((a, e) => a + e.indices.length, 0);
  console.error(
    `${
      direction === "apply" ? "applied" : "reverted"
    } ${n} entries in ${patch.length} tensors -> ${out}`,
  );
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  Deno.exit(1);
}
