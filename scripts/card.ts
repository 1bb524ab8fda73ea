// `deno task card --model DIR [--machine TEXT] [--rescore]`: rewrites a trained model's card
// (DIR/README.md) from the training summary it was trained with (DIR/recall.json), so a card
// follows changes of the card's layout without retraining; --machine says what the run was
// trained on where the summary does not (kept in the summary, so later cards say it too).
// --rescore first measures the summary's fact recall and greedy continuations again with the
// folder's weights and tokenizer.json (after a change of the tokenizer's settings, such as its
// prefix space), keeping training's figures beside them.

import { createBackend } from "../engine/select.ts";
import { exitWithError } from "../src/cli/fail.ts";
import { parseFlags } from "../src/cli/flags.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import {
  fsReason,
  jsonReason,
  present,
  readRegularText,
  writeTextAtomically,
} from "../src/io/files.ts";
import { loadTokenizer, type Tokenizer } from "../src/io/tokenizer.ts";
import type { EvalSets } from "../src/facts/corpus.ts";
import { END_OF_TEXT } from "../src/facts/base-tokenizer.ts";
import { probeSets } from "../src/train/corpus-source.ts";
import { PRESETS } from "../src/train/presets.ts";
import { loadModel } from "../src/pipeline/load.ts";
import { recall } from "../src/train/recall.ts";
import { greedySamples } from "../src/train/samples.ts";
import {
  summaryProblem,
  type TrainSummary,
  upgradeSummary,
  writeModelCard,
} from "../src/train/card.ts";

const USAGE = `Usage: deno task card --model DIR [--machine TEXT] [--rescore]

  --machine TEXT  what the model was trained on, where its recall.json does not say (written
                  into recall.json)
  --rescore       measure recall.json's fact recall and greedy continuations again with DIR's
                  weights and tokenizer.json (training's figures are kept beside them), then
                  rewrite recall.json and the card`;

const values = parseFlags({
  model: { type: "string" },
  machine: { type: "string" },
  rescore: { type: "boolean", default: false },
}, USAGE);
const model = values.model ?? exitWithError("--model is required", 2, USAGE);
if (model.trim() === "") exitWithError("--model must not be empty", 2, USAGE);
// A blank --machine was ignored without a word (the card kept saying what it said before).
if (values.machine !== undefined && values.machine.trim() === "") {
  exitWithError("--machine must not be empty: it says what the model was trained on", 2, USAGE);
}
const dir = model.replace(/\/+$/, "") || "/";
const path = `${dir}/recall.json`;
const isFolder = (p: string) => Deno.stat(p).then((s) => s.isDirectory, () => false);
const text = await readRegularText(path).catch(async (e) => {
  // A folder without the summary (an edit's OUT/model/, a downloaded model) has no card to write.
  if (await isFolder(dir) && !(await present(path))) {
    exitWithError(
      `${dir} is not a model trained by this project: it has no recall.json (the training ` +
        `summary its card is written from)`,
      1,
    );
  }
  return exitWithError(`cannot read ${path}: ${fsReason(e)}`, 1);
});
let summary: TrainSummary;
try {
  summary = upgradeSummary(JSON.parse(text)) as TrainSummary;
} catch (e) {
  exitWithError(`${path}: not JSON: ${jsonReason(e)}`, 1);
}
const problem = summaryProblem(summary);
if (problem !== null) exitWithError(`${path}: ${problem}; is this a training summary?`, 1);
if (values.machine) summary.machine = values.machine;

/**
 * Recall on the summary's probe sets and, for a base model, the card's continuations, again;
 * with the tokenizer they were measured with (the card needs it too).
 */
async function rescore(s: TrainSummary): Promise<{ summary: TrainSummary; tokenizer: Tokenizer }> {
  const backend = await createBackend("wasm");
  try {
    const { model, tokenizer } = await loadModel(dir, backend, { tokenizer: true });
    const sets = probeSets(PRESETS[s.preset].corpus);
    const report: TrainSummary["recall"] = {};
    for (const name of Object.keys(s.recall)) {
      const probes = sets[name as keyof EvalSets];
      if (probes === undefined) throw new Error(`${path}: no probe set "${name}" to measure`);
      report[name] = await recall(model, tokenizer!, probes);
      console.error(`${name.padEnd(18)} whole answer ${(100 * report[name].whole).toFixed(1)}%`);
    }
    const eot = tokenizer!.tokenToId(END_OF_TEXT) ?? null;
    const samples = s.preset === "facts" ? s.samples : await greedySamples(model, tokenizer!, eot);
    const trainedRecall = s.rescored?.trainedRecall ??
      Object.fromEntries(Object.entries(s.recall).map(([n, r]) => [n, r.whole]));
    const date = new Date().toISOString().slice(0, 10);
    const command = `deno task card --model ${dir} --rescore`;
    return {
      summary: { ...s, recall: report, samples, rescored: { date, command, trainedRecall } },
      tokenizer: tokenizer!,
    };
  } finally {
    await backend.dispose();
  }
}

await runCommand(async () => {
  // --rescore has read the tokenizer already: tokenizer.json is read once.
  let tok: Tokenizer | null = null;
  if (values.rescore) ({ summary, tokenizer: tok } = await rescore(summary));
  if (values.rescore || values.machine) {
    await writeTextAtomically(path, JSON.stringify(summary, null, 2) + "\n");
    console.error(`wrote ${path}`);
  }
  tok ??= await loadTokenizer(dir);
  await writeModelCard(`${dir}/README.md`, summary, tok.addsPrefixSpace);
  console.error(`wrote ${dir}/README.md`);
});
