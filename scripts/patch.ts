// `deno task patch apply|revert --patch FILE --model DIR --out DIR`: writes a model folder's
// weights with a sparse edit patch applied (the edited weights) or reverted (the original ones,
// in the dtypes the patch records for them), bit for bit, beside its config and tokenizer files
// (as the edit's OUT/model/; a trained model's card and recall.json are not the patched
// weights'). The input folder is only read; the output follows the edit command's rules
// (src/pipeline/output-guard.ts) and appears atomically (written as OUT.partial, then renamed). A
// patch applies only to the weights it was made from (and reverts only the weights it produced):
// --other-weights, not --force, overrides that. Ctrl-C stops it at once: OUT.partial and OUT's
// lock are removed, OUT is left as it was, exit 130.

import { parseArgs } from "node:util";
import { exitWithError } from "../src/cli/fail.ts";
import { abortOnInterrupt, interruptAt, removeFolderNow } from "../src/cli/interrupt.ts";
import { noModelFolder } from "../src/pipeline/models.ts";
import { printable } from "../src/cli/message.ts";
import { applyPatchTo, patchedDtype, readPatch } from "../src/io/patch.ts";
import {
  checkOutputFolder,
  checkReplaceable,
  GuardError,
  lockOutput,
  markOutput,
  removeOutput,
} from "../src/pipeline/output-guard.ts";
import { exists, fsError, replaceDir } from "../src/io/files.ts";
import { CARRIED_FILES } from "../src/io/model-files.ts";
import { openCheckpoint } from "../src/io/checkpoint.ts";
import { writeSafetensors } from "../src/io/safetensors.ts";

const USAGE = `Usage: deno task patch apply|revert --patch FILE --model DIR --out DIR [--force]
  [--other-weights]

  apply            write the patch's edited values into a copy of the model folder
  revert           write the patch's original values back (undo a patch applied before)
  --patch FILE     a sparse patch written by \`deno task edit\` (OUT/patch.safetensors)
  --model DIR      the model folder to patch (only read)
  --out DIR        the folder to write: --model's weights patched (as one model.safetensors; a
                   sharded model's shards are joined), its config and tokenizer files (not its
                   card or recall.json, which describe the unpatched weights)
  --force          replace --out when it exists (only a folder this tool wrote)
  --other-weights  apply (or revert) the patch even though the model does not hold the values it
                   starts from: a patch made from other weights, or one not applied to these;
                   each differing tensor is warned about
  -h, --help       print this usage`;

function fail(msg: string): never {
  exitWithError(msg, 2, USAGE);
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
        "other-weights": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
})();
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const direction = positionals[0];
if (direction !== "apply" && direction !== "revert") fail("the first argument is apply or revert");
if (positionals.length > 1) fail(`unexpected argument "${positionals[1]}"`);
if (!args.patch || !args.model || !args.out) fail("--patch, --model and --out are required");
const out = args.out.replace(/\/+$/, "") || "/";
const modelDir = args.model.replace(/\/+$/, "") || "/";
if (!(await Deno.stat(modelDir).then((s) => s.isDirectory, () => false))) {
  exitWithError(noModelFolder(modelDir), 1); // a missing input, as in edit and compare
}
const partial = `${out}.partial`;
// Nothing to resume: a Ctrl-C removes the OUT.partial this run made (a temporary as large as the
// model in it) and exits 130; OUT's lock goes with the exit.
let started = false;
const abort = abortOnInterrupt(`patch ${direction}`, () => {
  if (!started) return `${out} was not written`;
  removeFolderNow(partial);
  return `${out} was not written (its incomplete ${partial} was removed)`;
});
let release: () => void;
try {
  // The edit command's rules: never the model folder, nor an input, and only this tool's outputs
  // are replaced (with --force); then OUT.partial is written under OUT's lock.
  await checkOutputFolder(out, {
    model: modelDir,
    inputs: [args.patch],
    force: args.force,
    kind: "patch",
  });
  release = await lockOutput(out);
} catch (e) {
  if (e instanceof GuardError) fail(e.message);
  throw e;
}

try {
  const patch = await readPatch(args.patch);
  const file = await openCheckpoint(modelDir);
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
  // Refused unless the model holds the values the patch starts from (--other-weights: a
  // warning per differing tensor). Every difference is collected first; a refusal writes nothing.
  const differ = applyPatchTo(weights, patch, direction, {
    otherWeights: true,
    file: args.patch,
  });
  if (differ.length && !args["other-weights"]) {
    const n = differ.length - 1;
    const more = n ? ` (${n} more tensor${n > 1 ? "s" : ""} differ${n > 1 ? "" : "s"} too)` : "";
    const verb = direction === "apply" ? "applies" : "reverts";
    console.error(`error: ${printable(differ[0])}${more}; --other-weights ${verb} it anyway`);
    Deno.exit(1);
  }
  for (const w of differ) {
    console.error(
      `warning: ${printable(w)}; ${
        direction === "apply" ? "applied" : "reverted"
      } anyway (--other-weights)`,
    );
  }
  // A leftover OUT.partial of a killed run is removed only if this tool wrote it (its marker).
  await removeOutput(partial);
  started = true;
  await Deno.mkdir(partial, { recursive: true });
  await markOutput(partial, "patch");
  // The config and tokenizer files, as the edit's OUT/model/ holds them: a trained model's card
  // and recall.json describe its trained weights, not patched (or reverted) ones.
  for (const name of CARRIED_FILES) {
    if (await exists(`${modelDir}/${name}`)) {
      await Deno.copyFile(`${modelDir}/${name}`, `${partial}/${name}`);
    }
  }
  await interruptAt("write");
  const entries = new Map(patch.map((e) => [e.name, e]));
  await writeSafetensors(
    `${partial}/model.safetensors`,
    // A patched tensor is written in the dtype the patch recorded for it (the edit's input
    // checkpoint's), else in its stored one, when its values are exact in it (F32 otherwise): a
    // revert gives back the F16 of a tensor the edit trained in f32.
    [...weights].map(([name, data]) => ({
      name,
      shape: shapes.get(name)!,
      data,
      dtype: patchedDtype(data, stored.get(name)!, entries.get(name)),
    })),
    { format: "pt" },
  );
  abort.finishing();
  await checkReplaceable(out);
  await replaceDir(partial, out);
  release();
  abort.release();
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
