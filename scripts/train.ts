// `deno task train`: trains one of the project's fact-knowing models with our own autograd and
// AdamW, deterministic from --seed, resumable from its checkpoint, with a progress bar and a final
// fact-recall report. Three presets: `facts` (models/kne-facts: 4 layers, word-level tokens, the
// template corpus), `base` (models/kne-facts-base: GPT-2, 12 layers, byte-level BPE, the free-text
// corpus packed into context-length windows) and `base-llama` (its Llama-style twin: RMSNorm,
// rotary positions, SwiGLU, the same corpus, tokenizer and about as many parameters); every
// preset value can be overridden. Writes the model in Hugging
// Face layout (config.json, model.safetensors, tokenizer.json), recall.json and the model card
// into OUT.partial and renames it to OUT only when all of it is written; an existing OUT is
// replaced only with --force and only when this tool wrote it (the edit command's output rules,
// src/pipeline/output-guard.ts), refused before any training step.

import { listenForInterrupt } from "../src/cli/interrupt.ts";
import { parseArgs } from "node:util";
import { createBackend, parseBackendChoice } from "../engine/select.ts";
import { Adam } from "../src/autograd/adam.ts";
import { backward } from "../src/autograd/variable.ts";
import { Progress } from "../src/cli/progress.ts";
import { buildCorpus, DEFAULT_SEED, type EvalSets } from "../src/facts/corpus.ts";
import { buildTextCorpus } from "../src/facts/text-corpus.ts";
import { END_OF_TEXT } from "../src/facts/base-tokenizer.ts";
import { type BatchSource, packedSource, sentenceSource } from "../src/train/data.ts";
import { loadTokenizer } from "../src/io/tokenizer.ts";
import { buildModel, initWeights } from "../src/model/build.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { hfConfigJson } from "../src/model/write-config.ts";
import { lmLoss } from "../src/model/loss.ts";
import { saveWeights } from "../src/pipeline/load.ts";
import { sha256 } from "../src/pipeline/manifest.ts";
import { generate } from "../src/model/generate.ts";
import { tidyAsync } from "../src/tensor/tensor.ts";
import { loadCheckpoint, saveCheckpoint, type TrainState } from "../src/train/checkpoint.ts";
import { recall, type RecallReport } from "../src/train/recall.ts";
import { writeModelCard } from "../src/train/card.ts";
import { exists, replaceDir } from "../src/io/files.ts";
import { printable } from "../src/cli/message.ts";
import {
  checkOutputFolder,
  checkReplaceable,
  GuardError,
  lockOutput,
  markOutput,
  removeOutput,
} from "../src/pipeline/output-guard.ts";

const USAGE = `Usage: deno task train [--preset facts|base|base-llama] [--out DIR] [--force]
  [--epochs N] [--batch N] [--lr X]
  [--warmup N] [--weight-decay X] [--d N] [--layers N] [--heads N] [--ff N] [--ctx N] [--seed N]
  [--tokenizer FILE] [--backend B] [--ckpt-every N] [--resume] [--keep-checkpoint]

  --preset P   facts (default: models/kne-facts), base (models/kne-facts-base, GPT-2) or
               base-llama (models/kne-facts-base-llama, its Llama-style twin); an epoch of a
               base preset is one pass over freshly sampled documents of the free-text corpus
  --ff N       the FFN's hidden width (GPT-2: 4 x d; the Llama twin: 688, so that its three
               SwiGLU projections hold as many weights as GPT-2's two)
  --out DIR    where the model goes (default: the preset's); an existing folder there is
               replaced only with --force, only if this tool wrote it (its .kne-output
               marker), and only once training has finished
  --tokenizer FILE  a tokenizer.json to train with instead of the preset's (a base preset's
               needs <|endoftext|>; \`deno task make-tokenizer --vocab N --out DIR\` makes one)
  --resume     continue from DIR.checkpoint (written every --ckpt-every steps and on Ctrl-C);
               refused if the checkpoint was trained with another tokenizer`;

/** The base preset (models/kne-facts-base), which its Llama-style twin varies. */
const BASE = {
  out: "models/kne-facts-base",
  tokenizer: "../data/tokenizer-base/tokenizer.json",
  epochs: "28",
  batch: "16",
  lr: "1.5e-3",
  warmup: "100",
  // Weight decay as in GPT-2-style pretraining; it favours rules shared by many facts
  // (relations across phrasings, composition) over per-sentence memorization.
  "weight-decay": "0.1",
  arch: "gpt2",
  d: "256",
  // 12 layers: the shipped model (the 8-layer attempts are in bench/RESULTS.md).
  layers: "12",
  heads: "8",
  ff: "1024",
  ctx: "128",
} as const;

const PRESETS = {
  facts: {
    out: "models/kne-facts",
    tokenizer: "../data/tokenizer/tokenizer.json",
    epochs: "60",
    batch: "32",
    lr: "3e-3",
    warmup: "200",
    "weight-decay": "0.01",
    arch: "gpt2",
    d: "128",
    layers: "4",
    heads: "4",
    ff: "512",
    ctx: "32",
  },
  base: BASE,
  // The Llama-style twin of base (issue 19): everything as base but the block, whose SwiGLU MLP
  // has three [256, 688] projections (528k weights, GPT-2's two [256, 1024] hold 524k).
  "base-llama": {
    ...BASE,
    out: "models/kne-facts-base-llama",
    arch: "llama",
    ff: "688",
  },
} as const;
type PresetName = keyof typeof PRESETS;

const options = {
  preset: { type: "string", default: "facts" },
  out: { type: "string" },
  epochs: { type: "string" },
  batch: { type: "string" },
  lr: { type: "string" },
  warmup: { type: "string" },
  "weight-decay": { type: "string" },
  d: { type: "string" },
  layers: { type: "string" },
  heads: { type: "string" },
  ff: { type: "string" },
  ctx: { type: "string" },
  tokenizer: { type: "string" },
  seed: { type: "string", default: "1" },
  backend: { type: "string", default: "wasm" },
  "ckpt-every": { type: "string", default: "500" },
  resume: { type: "boolean", default: false },
  force: { type: "boolean", default: false },
  "keep-checkpoint": { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

function parse() {
  try {
    return parseArgs({ args: Deno.args, strict: true, allowPositionals: false, options }).values;
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
}
const parsed = parse();

if (parsed.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const presetName = parsed.preset! as PresetName;
if (!Object.hasOwn(PRESETS, presetName)) {
  console.error(
    `error: --preset must be one of ${Object.keys(PRESETS).join(", ")}, got "${presetName}"`,
  );
  Deno.exit(2);
}
const preset = PRESETS[presetName];
const args = {
  ...preset,
  ...Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined)),
} as
  & typeof preset
  & typeof parsed;

function int(name: string, min = 1): number {
  const v = Number(args[name as keyof typeof args]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`error: --${name} must be an integer >= ${min}`);
    Deno.exit(2);
  }
  return v;
}
function num(name: string): number {
  const v = Number(args[name as keyof typeof args]);
  if (!Number.isFinite(v) || v < 0) {
    console.error(`error: --${name} must be a non-negative number`);
    Deno.exit(2);
  }
  return v;
}

const seed = int("seed", 0);
const batch = int("batch");
const epochs = int("epochs");
const lr = num("lr");
const warmup = int("warmup", 0);
const weightDecay = num("weight-decay");
const ctx = int("ctx");
const d = int("d");
const nLayers = int("layers");
const nHeads = int("heads");
const dFF = int("ff");
const ckptEvery = int("ckpt-every");
if (d % nHeads !== 0) {
  console.error(`error: --d ${d} must be a multiple of --heads ${nHeads}`);
  Deno.exit(2);
}
let backendChoice;
try {
  backendChoice = parseBackendChoice(args.backend!);
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  Deno.exit(2);
}

const out = args.out!.replace(/\/+$/, "");
const partial = `${out}.partial`;
const ckptDir = `${out}.checkpoint`;
const outIsDir = await Deno.lstat(out).then((i) => i.isDirectory, () => false);
if (outIsDir && !args.force && await exists(`${out}/model.safetensors`)) {
  console.error(
    `error: ${out} already holds a model; pass --force to replace it when training finishes, ` +
      `or choose another --out`,
  );
  Deno.exit(2);
}
try {
  // Only folders this tool wrote (its marker; the committed models carry it) are replaced or
  // removed, whatever --force says: OUT, OUT.partial, the checkpoint and their .tmp/.old
  // siblings; OUT.partial is written under OUT's lock.
  await checkOutputFolder(out, { force: args.force });
  for (const p of [partial, ckptDir, `${ckptDir}.tmp`, `${ckptDir}.old`]) {
    await checkReplaceable(p);
  }
  await lockOutput(out);
} catch (e) {
  if (!(e instanceof GuardError)) throw e;
  console.error(`error: ${printable(e.message)}`);
  Deno.exit(2);
}
const markCheckpoint = (dir: string) => markOutput(dir, "checkpoint");

await removeOutput(partial);
await Deno.mkdir(partial, { recursive: true });
await markOutput(partial, "train");
// The committed tokenizers: word-level for `facts` (covers the corpus and every request,
// src/facts/tokenizer.ts), byte-level BPE for `base` (src/facts/base-tokenizer.ts); or --tokenizer.
const tokenizerFile = parsed.tokenizer ?? new URL(preset.tokenizer, import.meta.url).pathname;
let tok, tokenizerSha256;
try {
  const text = await Deno.readTextFile(tokenizerFile);
  tokenizerSha256 = await sha256(text);
  await Deno.writeTextFile(`${partial}/tokenizer.json`, text);
  tok = await loadTokenizer(partial);
} catch (e) {
  console.error(`error: --tokenizer ${printable(tokenizerFile)}: ${(e as Error).message}`);
  Deno.exit(2);
}
let source: BatchSource;
let evalSets: EvalSets;
let eot: number | null = null;
if (presetName === "facts") {
  const corpus = buildCorpus({ seed: DEFAULT_SEED });
  const seqs = corpus.train.map((s) => tok.encode(s, { addSpecialTokens: false })).filter((s) =>
    s.length >= 2 && s.length <= ctx + 1
  );
  if (seqs.length < corpus.train.length) {
    console.error(
      `note: ${corpus.train.length - seqs.length} sentences longer than the context were dropped`,
    );
  }
  source = sentenceSource(seqs, seed);
  evalSets = corpus.evalSets;
} else {
  const corpus = buildTextCorpus();
  eot = tok.tokenToId(END_OF_TEXT) ?? null;
  if (eot === null) {
    console.error(
      `error: ${printable(tokenizerFile)} has no ${END_OF_TEXT} token, which ends every document`,
    );
    Deno.exit(2);
  }
  source = packedSource(
    corpus.documents,
    (t) => tok.encode(t, { addSpecialTokens: false }),
    eot,
    ctx,
  );
  evalSets = corpus.evalSets;
}

const llama = preset.arch === "llama";
const config: ModelConfig = {
  architecture: preset.arch,
  hfClass: llama ? "LlamaForCausalLM" : "GPT2LMHeadModel",
  vocabSize: tok.vocabSize,
  contextLength: ctx,
  dModel: d,
  nLayers,
  nHeads,
  nKvHeads: nHeads,
  dFF,
  normEps: 1e-5,
  ropeTheta: 10000,
  tieEmbeddings: true,
  // GPT-2's fused c_attn carries a bias (read-config.ts reads it so); the Llama twin has none.
  qkvBias: !llama,
  bosTokenId: eot,
  eosTokenId: eot,
};

const backend = await createBackend(backendChoice);
const model = buildModel(config, backend, initWeights(config, seed), "init");
const params = [...model.params.values()];
const opt = new Adam(params, { lr, weightDecay, beta2: 0.98 });
const stepsPerEpoch = Math.ceil(source.size(0) / batch);
const totalSteps = stepsPerEpoch * epochs;
let state: TrainState = {
  step: 0,
  epoch: 0,
  cursor: 0,
  seed,
  config,
  losses: [],
  seconds: 0,
  tokens: 0,
  tokenizerSha256,
};
if (args.resume) {
  state = await loadCheckpoint(ckptDir, model, opt, tokenizerSha256).catch((e) => {
    console.error(`error: cannot resume: ${e.message}`);
    Deno.exit(1);
  });
  console.error(`resumed at step ${state.step}/${totalSteps}`);
}

const nParams = params.reduce((a, p) => a + p.value.size, 0);
console.error(
  `training ${config.nLayers}x${d} ${config.hfClass} (${
    (nParams / 1e6).toFixed(2)
  } M params, vocab ${config.vocabSize}) ` +
    `on ${source.size(0)} ${source.unit}, ${epochs} epochs x ${stepsPerEpoch} steps, ` +
    backend.description,
);

const lrAt = (step: number) => {
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const p = (step - warmup) / Math.max(1, totalSteps - warmup);
  return lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, p))));
};

const interrupt = listenForInterrupt("saving a checkpoint");

const bar = new Progress("train", totalSteps, "step", state.step);
const t0 = performance.now() - state.seconds * 1000;
let lossAvg = state.losses.at(-1) ?? NaN;
while (state.step < totalSteps && !interrupt.requested()) {
  if (state.cursor >= source.size(state.epoch)) {
    state.epoch++;
    state.cursor = 0;
  }
  const { ids, targets, rows } = source.batch(state.epoch, state.cursor, state.cursor + batch);
  state.cursor += rows;
  const loss = await tidyAsync(async () => {
    const r = lmLoss(model, ids, targets, rows);
    backward(r.loss);
    return (await r.loss.value.toArray())[0];
  });
  if (!Number.isFinite(loss)) {
    console.error(
      `\nerror: loss became ${loss} at step ${state.step}; last checkpoint: ${ckptDir}`,
    );
    Deno.exit(1);
  }
  opt.update(lrAt(state.step));
  opt.zeroGrad();
  state.step++;
  state.tokens += targets.filter((x) => x >= 0).length;
  lossAvg = Number.isNaN(lossAvg) ? loss : 0.98 * lossAvg + 0.02 * loss;
  if (state.step % 50 === 0) state.losses.push(Number(lossAvg.toFixed(4)));
  const secs = (performance.now() - t0) / 1000;
  bar.update(
    state.step,
    `loss ${lossAvg.toFixed(3)} ${(state.tokens / secs).toFixed(0)} tok/s epoch ${state.epoch + 1}`,
  );
  if (state.step % ckptEvery === 0 || interrupt.requested()) {
    state.seconds = secs;
    await saveCheckpoint(ckptDir, model, opt, state, markCheckpoint);
  }
}
bar.finish();
state.seconds = (performance.now() - t0) / 1000;
if (interrupt.requested()) {
  await saveCheckpoint(ckptDir, model, opt, state, markCheckpoint);
  console.error(`stopped at step ${state.step}; resume with --resume (checkpoint ${ckptDir})`);
  Deno.exit(130);
}

await Deno.writeTextFile(
  `${partial}/config.json`,
  JSON.stringify(hfConfigJson(config), null, 2) + "\n",
);
await saveWeights(model, partial);

const sets = evalSets;
const report: Record<string, RecallReport> = {};
for (const [name, probes] of Object.entries(sets)) {
  report[name] = await recall(model, tok, probes);
  console.error(
    `${name.padEnd(18)} n=${String(report[name].n).padStart(5)}  first token ${
      (100 * report[name].firstToken).toFixed(1)
    }%  whole answer ${(100 * report[name].whole).toFixed(1)}%`,
  );
}
// Five greedy continuations for the card: known facts in words the corpus uses and in others.
const SAMPLE_PROMPTS = [
  "The capital of France is",
  "Japan is a country in",
  "In Brazil, people speak",
  "My grandmother told me that the old city of",
  "The best way to learn about a country is",
];
const samples: [string, string][] = [];
if (presetName !== "facts") {
  for (const p of SAMPLE_PROMPTS) {
    const ids = tok.encode(p);
    const maxNewTokens = Math.min(24, ctx - ids.length);
    const r = await generate(model, ids, { maxNewTokens, eosId: eot ?? undefined });
    samples.push([p, tok.decode(r.tokens.filter((t) => t !== eot))]);
    console.error(`sample: ${p}|${samples.at(-1)![1]}`);
  }
}
const summary = {
  command: `deno task train ${Deno.args.join(" ")}`.trim(),
  seconds: Number(state.seconds.toFixed(1)),
  steps: state.step,
  epochs,
  tokens: state.tokens,
  tokensPerSecond: Number((state.tokens / state.seconds).toFixed(0)),
  finalLoss: Number(lossAvg.toFixed(4)),
  params: nParams,
  rows: source.size(0),
  unit: source.unit,
  preset: presetName,
  samples,
  backend: backend.description,
  machine: `${navigator.hardwareConcurrency} CPU threads, ${Deno.build.os} ${Deno.build.arch}`,
  recall: report,
  config,
};
await Deno.writeTextFile(`${partial}/recall.json`, JSON.stringify(summary, null, 2) + "\n");
await writeModelCard(`${partial}/README.md`, summary);
await checkReplaceable(out);
await replaceDir(partial, out);
if (!args["keep-checkpoint"]) await removeOutput(ckptDir);
backend.dispose();
console.error(`saved ${out} in ${state.seconds.toFixed(0)} s`);
