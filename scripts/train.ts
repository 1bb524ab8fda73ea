// `deno task train`: trains one of the project's fact-knowing models with our own autograd and
// AdamW, deterministic from --seed, resumable from its checkpoint, with a progress bar and a final
// fact-recall report. The presets (src/train/presets.ts) are the shipped models' settings; every
// value can be overridden. Writes the model in Hugging Face layout (config.json,
// model.safetensors, tokenizer.json), recall.json and the model card into OUT.partial and renames
// it to OUT only when all of it is written; an existing OUT is replaced only with --force and only
// when this tool wrote it (the edit command's output rules, src/pipeline/output-guard.ts), refused
// before any training step. This file reads the command line and guards the output; the corpus,
// the loop, the samples and the card are src/train's.

import { createBackend, parseBackendChoice } from "../engine/select.ts";
import { Adam } from "../src/autograd/adam.ts";
import { listenForInterrupt } from "../src/cli/interrupt.ts";
import { exitWithError } from "../src/cli/fail.ts";
import { notOneOf, parseFlags } from "../src/cli/flags.ts";
import { Progress } from "../src/cli/progress.ts";
import { exists, fsReason, jsonReason, readRegularText, replaceDir } from "../src/io/files.ts";
import { tokenizerFromJson } from "../src/io/tokenizer.ts";
import { buildModel, initWeights } from "../src/model/build.ts";
import { hfConfigJson } from "../src/model/write-config.ts";
import { saveWeights } from "../src/pipeline/load.ts";
import { sha256 } from "../src/io/digest.ts";
import { writeModelCard } from "../src/train/card.ts";
import { loadCheckpoint, saveCheckpoint, type TrainState } from "../src/train/checkpoint.ts";
import { CorpusSourceError, trainingData } from "../src/train/corpus-source.ts";
import { withInputNoise } from "../src/train/data.ts";
import { InitFromError, type InitModel, readInitFrom } from "../src/train/init-from.ts";
import { DivergedError, trainSteps } from "../src/train/loop.ts";
import { isPresetName, PRESETS, trainedModelConfig } from "../src/train/presets.ts";
import { beginRun, recordRun } from "../src/train/runs.ts";
import { recall, type RecallReport } from "../src/train/recall.ts";
import { greedySamples } from "../src/train/samples.ts";
import {
  checkNotInsideModel,
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
  [--tokenizer FILE] [--input-noise P] [--backend B] [--ckpt-every N] [--resume]
  [--keep-checkpoint] [--init DIR]

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
  --input-noise P  replace each input token (not the next-token targets) by a random one with
               probability P, in [0, 1) (default 0), so that the model learns to answer past
               words it cannot read; seeded, so a resumed run reads the same rows
  --ckpt-every N  write DIR.checkpoint every N steps (it is also written on Ctrl-C); a run
               to a DIR whose checkpoint is still there is refused unless it gives --resume
               (continue) or --force (start over, replacing the checkpoint)
  --resume     continue from DIR.checkpoint; refused if the checkpoint was trained with another
               tokenizer. With more --epochs it continues a finished run (a warm restart of the
               learning-rate schedule); replacing that run's model at DIR needs --force
  --keep-checkpoint  keep DIR.checkpoint once training has finished, written at its last step
               (it is removed otherwise), so that the run can be continued later with more
               --epochs and --resume
  --init DIR   start from the weights of DIR, a model this tool wrote (same shape and tokenizer;
               its tokenizer.json is the default --tokenizer), with a new optimizer and this
               run's own learning-rate schedule: a fine-tune (the card lists DIR's runs too)`;

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
  "input-noise": { type: "string", default: "0" },
  seed: { type: "string", default: "1" },
  backend: { type: "string", default: "wasm" },
  "ckpt-every": { type: "string", default: "500" },
  resume: { type: "boolean", default: false },
  force: { type: "boolean", default: false },
  "keep-checkpoint": { type: "boolean", default: false },
  init: { type: "string" },
} as const;
const parsed = parseFlags(options, USAGE);
const presetName = parsed.preset!;
if (!isPresetName(presetName)) {
  exitWithError(notOneOf("preset", presetName, Object.keys(PRESETS)), 2);
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
    exitWithError(`--${name} must be an integer >= ${min}`, 2);
  }
  return v;
}
function num(name: string): number {
  const v = Number(args[name as keyof typeof args]);
  if (!Number.isFinite(v) || v < 0) {
    exitWithError(`--${name} must be a non-negative number`, 2);
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
const inputNoise = num("input-noise");
if (inputNoise >= 1) exitWithError(`--input-noise must be below 1`, 2);
if (d % nHeads !== 0) {
  exitWithError(`--d ${d} must be a multiple of --heads ${nHeads}`, 2);
}
let backendChoice;
try {
  backendChoice = parseBackendChoice(args.backend!);
} catch (e) {
  exitWithError((e as Error).message, 2);
}

const out = args.out!.replace(/\/+$/, "");
const partial = `${out}.partial`;
const ckptDir = `${out}.checkpoint`;
if (args.resume && !(await exists(`${ckptDir}/state.json`))) {
  const finished = await exists(`${out}/model.safetensors`);
  exitWithError(
    `cannot resume: no checkpoint at ${ckptDir} ` +
      (finished
        ? `(the run at ${out} finished and removed it; only a run trained with --keep-checkpoint ` +
          `can be continued)`
        : `(a run writes one every --ckpt-every steps and on Ctrl-C, beside its --out); start ` +
          `without --resume, or give the --out of that run`),
    1,
  );
}
if (!args.resume && !args.force && await exists(`${ckptDir}/state.json`)) {
  // Starting over would overwrite an interrupted run's checkpoint at its first save.
  exitWithError(
    `${ckptDir} holds the checkpoint of an earlier run to ${out}: pass --resume to continue it, ` +
      `or --force to start over (its checkpoint is then replaced)`,
    2,
  );
}
const outIsDir = await Deno.lstat(out).then((i) => i.isDirectory, () => false);
if (outIsDir && !args.force && await exists(`${out}/model.safetensors`)) {
  exitWithError(
    `${out} already holds a model; pass --force to replace it when training finishes, ` +
      `or choose another --out`,
    2,
  );
}
/** Runs a step of the output guard; its refusal ends the command with exit 2. */
async function guarded(step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (e) {
    if (!(e instanceof GuardError)) throw e;
    exitWithError(e.message, 2);
  }
}
await guarded(async () => {
  // Only folders this tool wrote (its marker; the committed models carry it) are replaced or
  // removed, whatever --force says: OUT, OUT.partial, the checkpoint and their .tmp/.old
  // siblings; OUT.partial is written under OUT's lock.
  await checkOutputFolder(out, { force: args.force, kind: "train" });
  await checkNotInsideModel(out);
  for (const p of [partial, ckptDir, `${ckptDir}.tmp`, `${ckptDir}.old`]) {
    await checkReplaceable(p);
  }
});
const markCheckpoint = (dir: string) => markOutput(dir, "checkpoint");

// The committed tokenizers: word-level for `facts` (covers the corpus and every request,
// src/facts/tokenizer.ts), byte-level BPE for `base` (src/facts/base-tokenizer.ts); or --tokenizer.
const init = parsed.init?.replace(/\/+$/, "");
const tokenizerFile = parsed.tokenizer ??
  (init ? `${init}/tokenizer.json` : new URL(`../${preset.tokenizer}`, import.meta.url).pathname);
let tok, tokenizerText, tokenizerSha256;
try {
  tokenizerText = await readRegularText(tokenizerFile);
  tokenizerSha256 = await sha256(tokenizerText);
  tok = tokenizerFromJson(tokenizerFile, JSON.parse(tokenizerText), {});
} catch (e) {
  exitWithError(
    `--tokenizer ${tokenizerFile}: ${e instanceof SyntaxError ? jsonReason(e) : fsReason(e)}`,
    2,
  );
}
let data;
try {
  data = trainingData(preset.corpus, tok, ctx, seed);
} catch (e) {
  if (!(e instanceof CorpusSourceError)) throw e;
  exitWithError(`${tokenizerFile}: ${e.message}`, 2);
}
const { evalSets, eot } = data;
const config = trainedModelConfig(
  preset.arch,
  { vocabSize: tok.vocabSize, contextLength: ctx, dModel: d, nLayers, nHeads, dFF },
  eot,
);
let initModel: InitModel | undefined;
if (init !== undefined && !args.resume) {
  try {
    initModel = await readInitFrom(init, config, tokenizerSha256);
  } catch (e) {
    if (!(e instanceof InitFromError)) throw e;
    exitWithError(e.message, 2);
  }
}
// Every input is read before OUT's lock and OUT.partial are made: a bad one leaves nothing
// behind, not even OUT's parent folders (which the lock beside OUT needs).
await guarded(() => lockOutput(out));
await removeOutput(partial);
await Deno.mkdir(partial, { recursive: true });
await markOutput(partial, "train");
await Deno.writeTextFile(`${partial}/tokenizer.json`, tokenizerText);
const source = inputNoise > 0
  ? withInputNoise(data.source, inputNoise, tok.vocabSize, eot, seed)
  : data.source;
if (data.dropped > 0) {
  console.error(`note: ${data.dropped} sentences longer than the context were dropped`);
}

const backend = await createBackend(backendChoice);
// With --init the trained model's weights (read and checked above), else random ones.
const initWeightsByName = initModel?.weights;
const model = initWeightsByName
  ? buildModel(config, backend, (info) => initWeightsByName.get(info.name), `--init ${init}`)
  : buildModel(config, backend, initWeights(config, seed), "init");
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
    exitWithError(`cannot resume: ${e.message}`, 1);
  });
  if (init !== undefined && state.initFrom?.model !== init) {
    exitWithError(`cannot resume: ${ckptDir} was not started from --init ${init}`, 1);
  }
  console.error(`resumed at step ${state.step}/${totalSteps}`);
} else if (initModel) {
  state.initFrom = initModel.from;
  console.error(`starting from the weights of ${init} (${initModel.from.steps} steps)`);
  initWeightsByName?.clear(); // the weights are on the backend now
}
const command = `deno task train ${Deno.args.join(" ")}`.trim();
beginRun(state, command);

const nParams = params.reduce((a, p) => a + p.value.size, 0);
console.error(
  `training ${config.nLayers}x${d} ${config.hfClass} (${
    (nParams / 1e6).toFixed(2)
  } M params, vocab ${config.vocabSize}) ` +
    `on ${source.size(0)} ${source.unit}, ${epochs} epoch${
      epochs === 1 ? "" : "s"
    } x ${stepsPerEpoch} steps, ` +
    backend.description,
);

const interrupt = listenForInterrupt("saving a checkpoint");

const bar = new Progress("train", totalSteps, "step", state.step);
let lossAvg;
try {
  lossAvg = await trainSteps(model, opt, source, state, {
    batch,
    schedule: { lr, warmup, totalSteps },
    ckptEvery,
    save: (st) => {
      recordRun(st);
      return saveCheckpoint(ckptDir, model, opt, st, markCheckpoint);
    },
    stopRequested: () => interrupt.requested(),
    onStep: (st, avg, secs) =>
      bar.update(
        st.step,
        `loss ${avg.toFixed(3)} ${(st.tokens / secs).toFixed(0)} tok/s epoch ${st.epoch + 1}`,
      ),
  });
} catch (e) {
  if (!(e instanceof DivergedError)) throw e;
  console.error(); // past the progress bar's line
  exitWithError(`${e.message}; last checkpoint: ${ckptDir}`, 1);
}
// Stopped at Ctrl-C, the bar ends on its count as "interrupted", not "stopped early".
bar.finish(interrupt.requested() ? "interrupted" : "stopped early");
if (interrupt.requested()) {
  console.error(`stopped at step ${state.step}; resume with --resume (checkpoint ${ckptDir})`);
  Deno.exit(130);
}

recordRun(state);
// A kept checkpoint is the finished model's, not the last periodic one's (up to --ckpt-every
// steps before it), so that --resume continues from exactly what was shipped.
if (args["keep-checkpoint"]) await saveCheckpoint(ckptDir, model, opt, state, markCheckpoint);

await Deno.writeTextFile(
  `${partial}/config.json`,
  JSON.stringify(hfConfigJson(config), null, 2) + "\n",
);
await saveWeights(model, partial);

const report: Record<string, RecallReport> = {};
for (const [name, probes] of Object.entries(evalSets)) {
  report[name] = await recall(model, tok, probes);
  console.error(
    `${name.padEnd(18)} n=${String(report[name].n).padStart(5)}  first token ${
      (100 * report[name].firstToken).toFixed(1)
    }%  whole answer ${(100 * report[name].whole).toFixed(1)}%`,
  );
}
// Five greedy continuations for the card (a base preset's; the template model's are not text).
const samples = preset.corpus === "text" ? await greedySamples(model, tok, eot) : [];
for (const [p, c] of samples) console.error(`sample: ${p}|${c}`);
const summary = {
  command,
  runs: state.runs,
  initFrom: state.initFrom,
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
await writeModelCard(`${partial}/README.md`, summary, tok.addsPrefixSpace);
await checkReplaceable(out);
await replaceDir(partial, out);
if (!args["keep-checkpoint"]) await removeOutput(ckptDir);
await backend.dispose();
console.error(`saved ${out} in ${state.seconds.toFixed(0)} s`);
