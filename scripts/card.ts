// `deno task card --model DIR [--machine TEXT]`: rewrites a trained model's card (DIR/README.md)
// from the training summary it was trained with (DIR/recall.json), so a card follows changes of
// the card's layout without retraining; --machine says what the run was trained on where the
// summary does not.

import { parseArgs } from "node:util";
import { type TrainSummary, writeModelCard } from "../src/train/card.ts";

const USAGE = "Usage: deno task card --model DIR [--machine TEXT]";

let values;
try {
  values = parseArgs({
    args: Deno.args,
    strict: true,
    options: { model: { type: "string" }, machine: { type: "string" } },
  }).values;
} catch (e) {
  console.error(`error: ${(e as Error).message}\n\n${USAGE}`);
  Deno.exit(2);
}
if (!values.model) {
  console.error(`error: --model is required\n\n${USAGE}`);
  Deno.exit(2);
}
const dir = values.model.replace(/\/+$/, "");
const path = `${dir}/recall.json`;
let summary: TrainSummary;
try {
  summary = JSON.parse(await Deno.readTextFile(path));
} catch (e) {
  console.error(`error: ${path}: ${(e as Error).message}`);
  Deno.exit(1);
}
for (const field of ["command", "seconds", "recall", "config", "preset"] as const) {
  if (summary[field] === undefined) {
    console.error(`error: ${path}: field "${field}" is missing; is this a training summary?`);
    Deno.exit(1);
  }
}
if (values.machine) summary.machine = values.machine;
await writeModelCard(`${dir}/README.md`, summary);
console.error(`wrote ${dir}/README.md`);
