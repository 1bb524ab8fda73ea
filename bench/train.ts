// Training throughput: tokens per second of one training step (forward, backward, AdamW) of the
// project's trained shapes, with the batches training uses: `facts` (models/kne-facts:
// 4 layers, d 128, vocab 1401, 32 sentences of 12 tokens), `base` (kne-facts-base: 12 layers,
// d 256, vocab 8192, 16 windows of 128 tokens) and `base-llama` (its Llama-style twin: the same
// with RMSNorm, rotary positions, a SwiGLU FFN of 688 and the 4,096-token tokenizer). Median over
// --steps after --warmup steps, random weights and tokens. PyTorch CPU is the peer, in the same
// run, on the same shape and tokens (bench/peers/torch_train.py, the WASM backend's thread count),
// when Debian's python3-torch is installed (CI does not install it; bench/peers/torch.ts); the row
// says so otherwise. Printed as a table (bench/train/table.ts), or with --json one object per row.
//
//   deno task bench:train [--shapes=facts,base,base-llama] [--steps=N] [--warmup=N] [--json]

import { createWasmBackend } from "../engine/wasm/backend.ts";
import { Adam } from "../src/autograd/adam.ts";
import { backward } from "../src/autograd/variable.ts";
import { buildModel, disposeModel, initWeights } from "../src/model/build.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { lmLoss } from "../src/model/loss.ts";
import { tidyAsync } from "../src/tensor/tensor.ts";
import { benchFlags } from "./flags.ts";
import { runTorchPeer, torchPython } from "./peers/torch.ts";
import { peerNote, tableHeader, tableRow } from "./train/table.ts";

const args = benchFlags(["shapes", "steps", "warmup", "json"]);
const STEPS = args.int("steps", 6, 1);
const WARMUP = args.int("warmup", 2, 0);
const JSON_OUT = args.has("json");

interface Shape {
  llama?: boolean;
  d: number;
  layers: number;
  heads: number;
  vocab: number;
  ctx: number;
  batch: number;
  /** Tokens per row fed to the model. */
  rowTokens: number;
  /** FFN width (default 4 d). */
  ff?: number;
}
const SHAPES: Record<string, Shape> = {
  facts: { d: 128, layers: 4, heads: 4, vocab: 1401, ctx: 32, batch: 32, rowTokens: 12 },
  base: { d: 256, layers: 12, heads: 8, vocab: 8192, ctx: 128, batch: 16, rowTokens: 128 },
  "base-llama": {
    llama: true,
    d: 256,
    layers: 12,
    heads: 8,
    ff: 688,
    vocab: 4096,
    ctx: 128,
    batch: 16,
    rowTokens: 128,
  },
};

/** The PyTorch peer's seconds per step on `config` with shape `s`, or why it was not measured. */
async function torchStep(
  py: string | null,
  config: ModelConfig,
  s: Shape,
  threads: number,
): Promise<Record<string, unknown>> {
  const r = await runTorchPeer(py, "torch_train.py", {
    config,
    batch: s.batch,
    rowTokens: s.rowTokens,
    steps: STEPS,
    warmup: WARMUP,
    threads,
  });
  return r.ok ? r.value : { note: r.note };
}

const py = await torchPython();
const be = await createWasmBackend();
const names = args.list("shapes", Object.keys(SHAPES)) ?? ["facts", "base"];
/** Without --json: the peer's lines, each once, under the table. */
const notes = new Set<string>();
if (!JSON_OUT) {
  console.log(
    `${be.description}, median of ${STEPS} step${STEPS === 1 ? "" : "s"} after ${WARMUP} warm-up`,
  );
  console.log(tableHeader());
}
for (const name of names) {
  const s = SHAPES[name];
  const config: ModelConfig = {
    architecture: s.llama ? "llama" : "gpt2",
    hfClass: s.llama ? "LlamaForCausalLM" : "GPT2LMHeadModel",
    vocabSize: s.vocab,
    contextLength: s.ctx,
    dModel: s.d,
    nLayers: s.layers,
    nHeads: s.heads,
    nKvHeads: s.heads,
    headDim: s.d / s.heads,
    rotaryDims: s.d / s.heads,
    dFF: s.ff ?? 4 * s.d,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    tieEmbeddings: true,
    qkvBias: false,
    qkNorm: false,
    activation: s.llama ? "silu" : "gelu_tanh",
    parallelResidual: false,
    bosTokenId: null,
    eosTokenId: null,
  };
  const model = buildModel(config, be, initWeights(config, 1), "init");
  const opt = new Adam([...model.params.values()], { lr: 1e-3, weightDecay: 0.01 });
  const n = s.batch * s.rowTokens;
  const ids = Array.from({ length: n }, (_, i) => (i * 7919 + 13) % s.vocab);
  const targets = ids.map((x) => (x * 31 + 7) % s.vocab);
  const times: number[] = [];
  for (let step = 0; step < WARMUP + STEPS; step++) {
    const t0 = performance.now();
    await tidyAsync(async () => {
      const r = lmLoss(model, ids, targets, s.batch);
      backward(r.loss);
      return (await r.loss.value.toArray())[0];
    });
    opt.update();
    opt.zeroGrad();
    if (step >= WARMUP) times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  const median = times[times.length >> 1];
  const params = [...model.params.values()].reduce((a, p) => a + p.value.size, 0);
  const row = {
    shape: name,
    params,
    batch: s.batch,
    rowTokens: s.rowTokens,
    secondsPerStep: Number(median.toFixed(3)),
    tokensPerSecond: Math.round(n / median),
    pytorch: await torchStep(py, config, s, be.threads).then((t) =>
      typeof t.tokensPerSecond === "number"
        ? {
          ...t,
          tokensPerSecond: Math.round(t.tokensPerSecond),
          ratio: Number((n / median / t.tokensPerSecond).toFixed(2)),
        }
        : t
    ),
    backend: be.description,
  };
  if (JSON_OUT) console.log(JSON.stringify(row));
  else {
    console.log(tableRow(row));
    notes.add(peerNote(row));
  }
  disposeModel(model);
}
for (const note of notes) console.log(note);
await be.dispose();
