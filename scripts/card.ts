// `deno task card --model DIR [--machine TEXT]`: rewrites a trained model's card (DIR/README.md)
// from the training summary it was trained with (DIR/recall.json), so a card follows changes of
// the card's layout without retraining; --machine says what the run was trained on where the
// summary does not.

import { exitWithError } from "../src/cli/fail.ts";
import { parseFlags } from "../src/cli/flags.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import { fsError } from "../src/io/files.ts";
import { type TrainSummary, writeModelCard } from "../src/train/card.ts";

const USAGE = "Usage: deno task card --model DIR [--machine TEXT]";

const values = parseFlags({ model: { type: "string" }, machine: { type: "string" } }, USAGE);
const dir = (values.model ?? exitWithError("--model is required", 2, USAGE)).replace(/\/+$/, "");
const path = `${dir}/recall.json`;
const text = await Deno.readTextFile(path).catch((e) =>
  exitWithError((fsError(e) as Error).message, 1)
);
let summary: TrainSummary;
try {
  summary = JSON.parse(text);
} catch (e) {
  exitWithError(`${path}: not JSON: ${(e as Error).message}`, 1);
}
for (const field of ["command", "seconds", "recall", "config", "preset"] as const) {
  if (summary[field] === undefined) {
    exitWithError(`${path}: field "${field}" is missing; is this a training summary?`, 1);
  }
}
if (values.machine) summary.machine = values.machine;
await runCommand(() => writeModelCard(`${dir}/README.md`, summary));
console.error(`wrote ${dir}/README.md`);
