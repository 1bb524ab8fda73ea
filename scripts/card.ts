// `deno task card --model DIR [--machine TEXT]`: rewrites a trained model's card (DIR/README.md)
// from the training summary it was trained with (DIR/recall.json), so a card follows changes of
// the card's layout without retraining; --machine says what the run was trained on where the
// summary does not.

import { exitWithError } from "../src/cli/fail.ts";
import { parseFlags } from "../src/cli/flags.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import { fsReason, jsonReason, readRegularText } from "../src/io/files.ts";
import {
  summaryProblem,
  type TrainSummary,
  upgradeSummary,
  writeModelCard,
} from "../src/train/card.ts";

const USAGE = "Usage: deno task card --model DIR [--machine TEXT]";

const values = parseFlags({ model: { type: "string" }, machine: { type: "string" } }, USAGE);
const model = values.model ?? exitWithError("--model is required", 2, USAGE);
if (model.trim() === "") exitWithError("--model must not be empty", 2, USAGE);
const dir = model.replace(/\/+$/, "") || "/";
const path = `${dir}/recall.json`;
const text = await readRegularText(path).catch((e) =>
  exitWithError(`cannot read ${path}: ${fsReason(e)}`, 1)
);
let summary: TrainSummary;
try {
  summary = upgradeSummary(JSON.parse(text)) as TrainSummary;
} catch (e) {
  exitWithError(`${path}: not JSON: ${jsonReason(e)}`, 1);
}
const problem = summaryProblem(summary);
if (problem !== null) exitWithError(`${path}: ${problem}; is this a training summary?`, 1);
if (values.machine) summary.machine = values.machine;
await runCommand(() => writeModelCard(`${dir}/README.md`, summary));
console.error(`wrote ${dir}/README.md`);
