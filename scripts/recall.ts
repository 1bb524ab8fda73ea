// `deno task recall --model DIR [--corpus text|template] [--sets a,b] [--limit N] [--json OUT]`:
// teacher-forced fact recall of a model folder on the probe sets of the corpus it was trained on
// (text: kne-facts-base's free text, the default; template: kne-facts's sentences), overall and per
// relation, the same figures training writes into recall.json. --limit scores every k-th probe of
// each set so that at most N remain (a quick look at a model while another run trains).

import { createBackend, parseBackendChoice } from "../engine/select.ts";
import { exitWithError } from "../src/cli/fail.ts";
import { parseFlags } from "../src/cli/flags.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import { buildCorpus, DEFAULT_SEED, type EvalSets } from "../src/facts/corpus.ts";
import { buildTextCorpus } from "../src/facts/text-corpus.ts";
import { loadModel } from "../src/pipeline/load.ts";
import { recall, type RecallReport } from "../src/train/recall.ts";
import { BASE_TARGETS } from "../src/train/card.ts";

const USAGE = `Usage: deno task recall --model DIR [--corpus text|template] [--sets a,b]
  [--limit N] [--json OUT] [--backend wasm|webgpu|auto]`;

function fail(msg: string): never {
  exitWithError(msg, 2, USAGE);
}

const args = parseFlags({
  model: { type: "string" },
  corpus: { type: "string", default: "text" },
  sets: { type: "string" },
  limit: { type: "string" },
  json: { type: "string" },
  backend: { type: "string", default: "wasm" },
}, USAGE);
const modelDir = args.model ?? fail("--model is required");
if (args.corpus !== "text" && args.corpus !== "template") {
  fail(`--corpus must be text or template, got "${args.corpus}"`);
}
const limit = args.limit === undefined ? Infinity : Number(args.limit);
if (!(limit >= 1) || (limit !== Infinity && !Number.isInteger(limit))) {
  fail("--limit must be an integer >= 1");
}
let backendChoice;
try {
  backendChoice = parseBackendChoice(args.backend!);
} catch (e) {
  fail((e as Error).message);
}

const all: EvalSets = args.corpus === "text"
  ? buildTextCorpus().evalSets
  : buildCorpus({ seed: DEFAULT_SEED }).evalSets;
const names = args.sets?.split(",") ?? Object.keys(all);
for (const n of names) {
  if (!(n in all)) fail(`--sets: no probe set "${n}" (sets: ${Object.keys(all).join(", ")})`);
}

await runCommand(async () => {
  const backend = await createBackend(backendChoice);
  const { model, tokenizer } = await loadModel(modelDir, backend, { tokenizer: true });
  const report: Record<string, RecallReport> = {};
  for (const name of names) {
    const probes = all[name as keyof EvalSets];
    const step = Math.max(1, Math.ceil(probes.length / limit));
    report[name] = await recall(model, tokenizer!, probes.filter((_, i) => i % step === 0));
    const target = BASE_TARGETS[name];
    console.log(
      `${name.padEnd(18)} n=${String(report[name].n).padStart(5)}  first token ${
        (100 * report[name].firstToken).toFixed(1)
      }%  whole answer ${(100 * report[name].whole).toFixed(1)}%${
        target && args.corpus === "text" ? `  (target ${100 * target}%)` : ""
      }`,
    );
    for (const [rel, r] of Object.entries(report[name].byRelation)) {
      console.log(
        `  ${rel.padEnd(22)} n=${String(r.n).padStart(5)}  whole ${(100 * r.whole).toFixed(1)}%`,
      );
    }
  }
  if (args.json) await Deno.writeTextFile(args.json, JSON.stringify(report, null, 2) + "\n");
  await backend.dispose();
});
