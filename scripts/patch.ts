// `deno task patch apply|revert --patch FILE --model DIR --out DIR`: writes a copy of a model
// folder with a sparse edit patch applied (the edited weights) or reverted (the original ones),
// bit for bit. The input folder is only read; the output follows the edit command's rules
// (src/pipeline/output-guard.ts) and appears atomically (written as OUT.partial, then renamed).

import { parseArgs } from "node:util";
import { printable } from "../src/cli/message.ts";
import { applyPatchTo, readPatch } from "../src/io/patch.ts";
import {
  checkOutputFolder,
  checkReplaceable,
  GuardError,
  lockOutput,
  markOutput,
  OUTPUT_MARKER,
  removeOutput,
} from "../src/pipeline/output-guard.ts";
import { fsError, replaceDir } from "../src/io/files.ts";
import { exactWriteDtype, openSafetensors, writeSafetensors } from "../src/io/safetensors.ts";

const USAGE = "Usage: deno task patch apply|revert --patch FILE --model DIR --out DIR [--force]";

function fail(msg: string): never {
  console.error(`error: ${printable(msg)}\n${USAGE}`);
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
const out = args.out.replace(/\/+$/, "") || "/";
const modelDir = args.model.replace(/\/+$/, "") || "/";
if (!(await Deno.stat(modelDir).then((s) => s.isDirectory, () => false))) {
  fail(`no such model folder ${modelDir}`);
}
let release: () => void;
try {
  // The edit command's rules: never the model folder, nor an input, and only this tool's outputs
  // are replaced (with --force); then OUT.partial is written under OUT's lock.
  await checkOutputFolder(out, { model: modelDir, inputs: [args.patch], force: args.force });
  release = await lockOutput(out);
} catch (e) {
  if (e instanceof GuardError) fail(e.message);
  throw e;
}
const partial = `${out}.partial`;

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
  // Refused unless the model holds the values the patch starts from (--force: a warning).
  for (
    const w of applyPatchTo(weights, patch, direction, { force: args.force, file: args.patch })
  ) {
    console.error(`warning: ${w}; applied anyway (--force)`);
  }
  // A leftover OUT.partial of a killed run is removed only if this tool wrote it (its marker).
  await removeOutput(partial);
  await Deno.mkdir(partial, { recursive: true });
  await markOutput(partial, "patch");
  for await (const entry of Deno.readDir(modelDir)) {
    if (entry.isFile && entry.name !== "model.safetensors" && entry.name !== OUTPUT_MARKER) {
      await Deno.copyFile(`${modelDir}/${entry.name}`, `${partial}/${entry.name}`);
    }
  }
  await writeSafetensors(
    `${partial}/model.safetensors`,
    // A half-precision tensor stays so when the patched values are exact in it (an f16 edit).
    [...weights].map(([name, data]) => ({
      name,
      shape: shapes.get(name)!,
      data,
      dtype: exactWriteDtype(data, stored.get(name)!),
    })),
    { format: "pt" },
  );
  await checkReplaceable(out);
  await replaceDir(partial, out);
  release();
  const n = patch.reduce((a, e) => a + e.indices.length, 0);
  console.error(
    `${
      direction === "apply" ? "applied" : "reverted"
    } ${n} entries in ${patch.length} tensors -> ${out}`,
  );
} catch (e) {
  console.error(`error: ${printable((fsError(e) as Error).message)}`);
  Deno.exit(1);
}
