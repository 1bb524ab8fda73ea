// `deno task recall --model DIR [--corpus text|template] [--sets a,b] [--limit N] [--json OUT]`:
// teacher-forced fact recall of a model folder on the probe sets of the corpus it was trained on
// (text: kne-facts-base's free text; template: kne-facts's sentences; by default the one its
// tokenizer was made for: byte-level BPE for text, word-level for template), overall and per
// relation, the same figures training writes into recall.json. --limit scores a seeded sample of
// at most N probes of each set (a quick look at a model while another run trains).
// --by-phrasing adds a row per phrasing under each relation (which wordings a model misses), and
// --prefix TEXT puts TEXT before every prompt (how recall depends on what precedes the prompt:
// a leading space, an end-of-text token, another sentence).

import { createBackend, parseBackendChoice } from "../engine/select.ts";
import { exitWithError } from "../src/cli/fail.ts";
import { parseFlags } from "../src/cli/flags.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import type { EvalSets } from "../src/facts/corpus.ts";
import { probeSets } from "../src/train/corpus-source.ts";
import { loadModel } from "../src/pipeline/load.ts";
import { recall, type RecallReport } from "../src/train/recall.ts";
import { BASE_TARGETS } from "../src/train/card.ts";
import { realish } from "../src/pipeline/output-guard.ts";
import { present } from "../src/io/files.ts";
import { checkWritable } from "../src/io/writable.ts";
import { mulberry32, shuffled } from "../src/random/rng.ts";

const USAGE = `Usage: deno task recall --model DIR [--corpus text|template] [--sets a,b]
  [--limit N] [--by-phrasing] [--prefix TEXT] [--json OUT [--force]] [--backend wasm|webgpu|auto]

  --corpus C   text (kne-facts-base's) or template (kne-facts's); default: text for a model with
               a BPE tokenizer, template for a word-level one
  --by-phrasing  also score each phrasing (the sentence frame a probe was made from) apart
  --prefix TEXT  put TEXT before every probe's prompt, e.g. " " or "<|endoftext|>" (default: none)
  --json OUT   also write the report there: never into the model folder (its recall.json is
               training's), and over an existing file only with --force`;

function fail(msg: string): never {
  exitWithError(msg, 2, USAGE);
}

const SAMPLE_SEED = 20261206;

const args = parseFlags({
  model: { type: "string" },
  corpus: { type: "string" },
  sets: { type: "string" },
  limit: { type: "string" },
  "by-phrasing": { type: "boolean", default: false },
  prefix: { type: "string", default: "" },
  json: { type: "string" },
  force: { type: "boolean", default: false },
  backend: { type: "string", default: "wasm" },
}, USAGE);
const modelDir = args.model ?? fail("--model is required");
if (modelDir.trim() === "") fail("--model must not be empty");
if (args.corpus !== undefined && args.corpus !== "text" && args.corpus !== "template") {
  fail(`--corpus must be text or template, got "${args.corpus}"`);
}
if (args.json !== undefined) {
  // A path through a file cannot be resolved: the checks below (and the model's loading) say so.
  const real = (p: string) => realish(p).catch(() => null);
  const json = await real(args.json), model = await real(modelDir);
  if (json !== null && model !== null && json.startsWith(model + "/")) {
    exitWithError(`--json ${args.json} lies inside the model folder; choose another path`, 2);
  }
  if (!args.force && await present(args.json)) {
    exitWithError(`--json ${args.json} exists; pass --force to replace it`, 2);
  }
  // A folder there, or a parent folder missing or read-only, is said now, not after the recall.
  await checkWritable(args.json).catch((e) => exitWithError((e as Error).message, 2));
}
/**
 * The corpus the model's tokenizer was made for: word-level (kne-facts) or byte-level BPE; a
 * tokenizer that cannot be read is left to the model's loading to report.
 */
async function corpusOf(dir: string): Promise<"text" | "template"> {
  try {
    const json = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer.json`));
    const type = json?.model?.type;
    return typeof type === "string" && type !== "BPE" ? "template" : "text";
  } catch {
    return "text";
  }
}
const corpus = (args.corpus as "text" | "template" | undefined) ?? await corpusOf(modelDir);
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

const all = probeSets(corpus === "text" ? "text" : "sentences");
const names = args.sets?.split(",") ?? Object.keys(all);
for (const n of names) {
  if (!Object.hasOwn(all, n)) {
    fail(`--sets: no probe set "${n}" (sets: ${Object.keys(all).join(", ")})`);
  }
}

/**
 * At most `limit` probes of a set: a seeded sample, in the set's order. (Every k-th probe followed
 * the set's period: of the aliases, whose probes cycle through four relations, every second one
 * left two relations out.)
 */
function sample<T>(every: readonly T[], limit: number): T[] {
  if (every.length <= limit) return [...every];
  const keep = new Set(shuffled([...every.keys()], mulberry32(SAMPLE_SEED)).slice(0, limit));
  return every.filter((_, i) => keep.has(i));
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
const count = (n: number) => `n=${String(n).padStart(5)}`;

await runCommand(async () => {
  const backend = await createBackend(backendChoice);
  const { model, tokenizer } = await loadModel(modelDir, backend, { tokenizer: true });
  const report: Record<string, RecallReport> = {};
  for (const name of names) {
    const every = all[name as keyof EvalSets];
    const probes = sample(every, limit);
    const set = await recall(model, tokenizer!, probes, {
      prefix: args.prefix,
      byPhrasing: args["by-phrasing"],
    });
    report[name] = set;
    const target = BASE_TARGETS[name];
    console.log(
      `${name.padEnd(18)} ${count(set.n)}  first token ${percent(set.firstToken)}  whole answer ${
        percent(set.whole)
      }${target && corpus === "text" ? `  (target ${100 * target}%)` : ""}`,
    );
    for (const [rel, r] of Object.entries(set.byRelation)) {
      console.log(`  ${rel.padEnd(22)} ${count(r.n)}  whole ${percent(r.whole)}`);
      const frames = new Set(probes.filter((p) => p.relation === rel).map((p) => p.phrasing));
      for (const frame of set.byPhrasing ? [...frames].sort() : []) {
        const f = set.byPhrasing![frame];
        console.log(`    ${frame.padEnd(48)} ${count(f.n)}  whole ${percent(f.whole)}`);
      }
    }
  }
  if (args.json) await Deno.writeTextFile(args.json, JSON.stringify(report, null, 2) + "\n");
  await backend.dispose();
});
