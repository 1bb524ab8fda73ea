// `deno task train`: trains the project's default model (a small GPT-2 shaped LM) on the fact
// world with our own autograd and AdamW, deterministic from --seed, resumable from its
// checkpoint, with a progress bar and a final fact-recall report. Writes the model in Hugging
// Face layout (config.json, model.safetensors, tokenizer.json), recall.json and the model card
// into OUT.partial and renames it to OUT only when all of it is written; an OUT that already
// holds a model is replaced only with --force (refused before any training step).

import { parseArgs } from "node:util";
import { createBackend, parseBackendChoice } from "../engine/select.ts";
import { Adam } from "../src/autograd/adam.ts";
import { backward } from "../src/autograd/variable.ts";
import { Progress } from "../src/cli/progress.ts";
import { buildCorpus, DEFAULT_SEED } from "../src/facts/corpus.ts";
import { loadTokenizer } from "../src/io/tokenizer.ts";
import { buildModel, initWeights } from "../src/model/build.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { lmLoss } from "../src/model/loss.ts";
import { saveWeights } from "../src/model/load.ts";
import { tidyAsync } from "../src/tensor/tensor.ts";
import { loadCheckpoint, saveCheckpoint, type TrainState } from "../src/train/checkpoint.ts";
import { recall, type RecallReport } from "../src/train/recall.ts";
import { mulberry32, shuffled } from "../src/facts/rng.ts";
import { writeModelCard } from "../src/train/card.ts";
import { exists, replaceDir } from "../src/io/files.ts";

const USAGE = `Usage: deno task train [--out DIR] [--force] [--epochs N] [--batch N] [--lr X]
  [--warmup N] [--weight-decay X] [--d N] [--layers N] [--heads N] [--ctx N] [--seed N]
  [--backend B] [--ckpt-every N] [--resume] [--keep-checkpoint]

  --out DIR    where the model goes (default models/kne-facts); an existing model there is
               replaced only with --force, and only once training has finished
  --resume     continue from DIR.checkpoint (written every --ckpt-every steps and on Ctrl-C)`;

const options = {
  out: { type: "string", default: "models/kne-facts" },
  epochs: { type: "string", default: "60" },
  batch: { type: "string", default: "32" },
  lr: { type: "string", default: "3e-3" },
  warmup: { type: "string", default: "200" },
  "weight-decay": { type: "string", default: "0.01" },
  d: { type: "string", default: "128" },
  layers: { type: "string", default: "4" },
  heads: { type: "string", default: "4" },
  ctx: { type: "string", default: "32" },
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
const args = parse();

if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}

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
if (await exists(`${out}/model.safetensors`) && !args.force) {
  console.error(
    `error: ${out} already holds a model; pass --force to replace it when training finishes, ` +
      `or choose another --out`,
  );
  Deno.exit(2);
}

const corpus = buildCorpus({ seed: DEFAULT_SEED });
await Deno.remove(partial, { recursive: true }).catch(() => {});
await Deno.mkdir(partial, { recursive: true });
// The committed word-level tokenizer covers the corpus and every request (src/facts/tokenizer.ts).
await Deno.copyFile(
  new URL("../data/tokenizer/tokenizer.json", import.meta.url),
  `${partial}/tokenizer.json`,
);
const tok = await loadTokenizer(partial);
const seqs = corpus.train.map((s) => tok.encode(s)).filter((s) =>
  s.length >= 2 && s.length <= ctx + 1
);
if (seqs.length < corpus.train.length) {
  console.error(
    `note: ${corpus.train.length - seqs.length} sentences longer than the context were dropped`,
  );
}

const config: ModelConfig = {
  architecture: "gpt2",
  hfClass: "GPT2LMHeadModel",
  vocabSize: tok.vocabSize,
  contextLength: ctx,
  dModel: d,
  nLayers,
  nHeads,
  nKvHeads: nHeads,
  dFF: 4 * d,
  normEps: 1e-5,
  ropeTheta: 10000,
  tieEmbeddings: true,
  qkvBias: false,
  bosTokenId: null,
  eosTokenId: null,
};

const backend = await createBackend(backendChoice);
const model = buildModel(config, backend, initWeights(config, seed), "init");
const params = [...model.params.values()];
const opt = new Adam(params, { lr, weightDecay, beta2: 0.98 });
const stepsPerEpoch = Math.ceil(seqs.length / batch);
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
};
if (args.resume) {
  state = await loadCheckpoint(ckptDir, model, opt).catch((e) => {
    console.error(`error: cannot resume: ${e.message}`);
    Deno.exit(1);
  });
  console.error(`resumed at step ${state.step}/${totalSteps}`);
}

const nParams = params.reduce((a, p) => a + p.value.size, 0);
console.error(
  `training ${config.nLayers}x${d} GPT-2 (${
    (nParams / 1e6).toFixed(2)
  } M params, vocab ${config.vocabSize}) ` +
    `on ${seqs.length} sentences, ${epochs} epochs x ${stepsPerEpoch} steps, ${backend.description}`,
);

const lrAt = (step: number) => {
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const p = (step - warmup) / Math.max(1, totalSteps - warmup);
  return lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, p))));
};

let stop = false;
Deno.addSignalListener("SIGINT", () => {
  if (stop) Deno.exit(130);
  stop = true;
  console.error("\ninterrupt: saving a checkpoint (Ctrl-C again to abort)");
});

const bar = new Progress("train", totalSteps, "step");
const t0 = performance.now() - state.seconds * 1000;
let order = shuffled(seqs.map((_, i) => i), mulberry32(seed * 1000 + state.epoch));
let lossAvg = state.losses.at(-1) ?? NaN;
while (state.step < totalSteps && !stop) {
  if (state.cursor >= order.length) {
    state.epoch++;
    state.cursor = 0;
    order = shuffled(seqs.map((_, i) => i), mulberry32(seed * 1000 + state.epoch));
  }
  const picked = order.slice(state.cursor, state.cursor + batch).map((i) => seqs[i]);
  state.cursor += picked.length;
  const t = Math.max(...picked.map((s) => s.length)) - 1;
  const ids: number[] = [], targets: number[] = [];
  for (const s of picked) {
    for (let i = 0; i < t; i++) {
      ids.push(i < s.length - 1 ? s[i] : 0);
      targets.push(i < s.length - 1 ? s[i + 1] : -1);
    }
  }
  const loss = await tidyAsync(async () => {
    const r = lmLoss(model, ids, targets, picked.length);
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
  if (state.step % ckptEvery === 0 || stop) {
    state.seconds = secs;
    await saveCheckpoint(ckptDir, model, opt, state);
  }
}
bar.finish();
state.seconds = (performance.now() - t0) / 1000;
if (stop) {
  await saveCheckpoint(ckptDir, model, opt, state);
  console.error(`stopped at step ${state.step}; resume with --resume (checkpoint ${ckptDir})`);
  Deno.exit(130);
}

await Deno.writeTextFile(
  `${partial}/config.json`,
  JSON.stringify(
    {
      architectures: ["GPT2LMHeadModel"],
      model_type: "gpt2",
      vocab_size: config.vocabSize,
      n_positions: config.contextLength,
      n_ctx: config.contextLength,
      n_embd: d,
      n_layer: config.nLayers,
      n_head: config.nHeads,
      n_inner: null,
      activation_function: "gelu_new",
      layer_norm_epsilon: config.normEps,
      tie_word_embeddings: true,
      bos_token_id: null,
      eos_token_id: null,
    },
    null,
    2,
  ) + "\n",
);
await saveWeights(model, partial);

const sets = corpus.evalSets;
const report: Record<string, RecallReport> = {};
for (const [name, probes] of Object.entries(sets)) {
  report[name] = await recall(model, tok, probes);
  console.error(
    `${name.padEnd(18)} n=${String(report[name].n).padStart(5)}  first token ${
      (100 * report[name].firstToken).toFixed(1)
    }%  whole answer ${(100 * report[name].whole).toFixed(1)}%`,
  );
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
  sentences: seqs.length,
  backend: backend.description,
  recall: report,
  config,
};
await Deno.writeTextFile(`${partial}/recall.json`, JSON.stringify(summary, null, 2) + "\n");
await writeModelCard(`${partial}/README.md`, summary);
await replaceDir(partial, out);
if (!args["keep-checkpoint"]) await Deno.remove(ckptDir, { recursive: true }).catch(() => {});
backend.dispose();
console.error(`saved ${out} in ${state.seconds.toFixed(0)} s`);
