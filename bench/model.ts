// Model-step benchmark: one forward + backward (mean next-token loss over all positions) of a
// GPT-2-small shaped model (12 layers, d 768, 12 heads, vocab 50257, context 1024, random
// weights from src/model/build.ts initWeights), batch 1, sequence 32. Reports the median of
// several rounds after a warm-up, the matmul FLOPs (counted per dispatch: 2*batch*m*n*k) and the
// achieved GFLOP/s, and peak memory (the backend's allocated-bytes high-water mark and the
// process's peak RSS) relative to the weight bytes. Targets (issue "Autograd and the
// transformer"): under 3 s per step on WASM on the 2-core machine, peak under 3x the weights.
// PyTorch CPU is the peer, in the same run, on the same shape and tokens with the WASM backend's
// thread count (bench/peers/torch_model.py), when a python3 imports torch (Debian's
// python3-torch; CI does not install it): its median step and the ratio are printed next to
// the WASM figure (with --generate its greedy decoding too), or a note says why it was not
// measured.
//
//   deno task bench:model [--json] [--profile] [--generate] [--rounds=N] [--seq=N] [--layers=N]
//                         [--threads=N] [--no-webgpu] [--no-torch] [--no-record]
//
// --json prints one object per line; --profile adds the time per kernel (WASM dispatch is
// synchronous, so wrapping it times each kernel exactly); --generate times greedy decoding with
// the KV cache against recomputing the full forward per token. Unless --no-record, a dated entry
// is added to bench/RESULTS.md under "## Model step (bench/model.ts)".

import type { Backend } from "../engine/backend.ts";
import { createWasmBackend, type WasmBackend } from "../engine/wasm/backend.ts";
import { createWebGpuBackend, requestAdapter } from "../engine/webgpu/backend.ts";
import { backward } from "../src/autograd/variable.ts";
import { buildModel, disposeModel, initWeights } from "../src/model/build.ts";
import { generate } from "../src/model/generate.ts";
import type { ModelConfig } from "../src/model/config.ts";
import type { CausalLM } from "../src/model/lm.ts";
import { lmLoss } from "../src/model/loss.ts";
import { tidyAsync } from "../src/tensor/tensor.ts";
import { median } from "../src/eval/aggregate.ts";
import { type PeerResult, runTorchPeer, torchPython } from "./peers/torch.ts";
import { benchFlags } from "./flags.ts";
import { peakRssBytes } from "./peak-rss.ts";
import { GPT2_SMALL } from "./shapes.ts";
import { addEntry, entryHeading } from "./results-file.ts";

const args = benchFlags([
  "json",
  "profile",
  "generate",
  "rounds",
  "seq",
  "layers",
  "threads",
  "no-webgpu",
  "no-torch",
  "no-record",
]);
const JSON_OUT = args.has("json");
const PROFILE = args.has("profile");
const ROUNDS = args.int("rounds", 3, 1);
const SEQ = args.int("seq", 32, 1);
const LAYERS = args.int("layers", 12, 1);
const GENERATE = args.has("generate");
/** Tokens --generate decodes with the KV cache (3 more recompute the full forward). */
const GENERATE_TOKENS = 16;
const THREADS = args.has("threads") ? args.int("threads", 1, 1) : undefined;

/** GPT-2 small, with --layers of its layers. */
const config: ModelConfig = { ...GPT2_SMALL, nLayers: LAYERS };

const MATMULS = new Set(["matmul", "matmul_tn", "matmul_nt"]);

/** Wraps dispatch to count matmul FLOPs by phase and (optionally) time each kernel. */
class Meter {
  phase: "forward" | "backward" = "forward";
  flops = { forward: 0, backward: 0 };
  dispatches = 0;
  time = new Map<string, { ms: number; calls: number }>();
  constructor(be: Backend, timeKernels: boolean) {
    const inner = be.dispatch.bind(be);
    be.dispatch = (name, buffers, params) => {
      this.dispatches++;
      if (MATMULS.has(name)) {
        const [batch, m, n, k] = params;
        this.flops[this.phase] += 2 * batch * m * n * k;
      }
      if (!timeKernels) return inner(name, buffers, params);
      const t0 = performance.now();
      inner(name, buffers, params);
      const e = this.time.get(name) ?? { ms: 0, calls: 0 };
      e.ms += performance.now() - t0;
      e.calls++;
      this.time.set(name, e);
    };
  }
  reset(): void {
    this.flops = { forward: 0, backward: 0 };
    this.dispatches = 0;
    this.time.clear();
  }
}

interface StepResult {
  backend: string;
  description: string;
  layers: number;
  seq: number;
  rounds: number;
  ms: number;
  msAll: number[];
  forwardMs: number;
  gflop: number;
  gflops: number;
  weightBytes: number;
  peakDeviceBytes: number | null;
  /** WASM linear memory size at the end (live, free-listed and reserved blocks). */
  memoryBytes: number | null;
  peakRssBytes: number;
  dispatches: number;
  loss: number;
  /** With --profile: milliseconds per kernel over one step, largest first. */
  profile?: { kernel: string; ms: number; calls: number }[];
  /** With --generate: KV-cached greedy decoding after a 32-token prompt. */
  generation?: { cachedMsPerToken: number; fullMsPerToken: number; tokens: number };
  /** WASM only: the same step in PyTorch CPU (bench/peers/torch_model.py). */
  pytorch?: TorchStep;
}

/** The PyTorch peer's step (median after a warm-up), as bench/peers/torch_model.py prints it. */
interface TorchStep {
  ms: number;
  msAll: number[];
  forwardMs: number;
  loss: number;
  torch: string;
  threads: number;
  /** With --generate, as StepResult's. */
  generation?: { cachedMsPerToken: number; fullMsPerToken: number; tokens: number };
}

async function step(model: CausalLM, meter: Meter, ids: number[], targets: number[]) {
  const be = model.backend;
  meter.phase = "forward";
  const t0 = performance.now();
  let tf = 0;
  const loss = await tidyAsync(async () => {
    const r = lmLoss(model, ids, targets, 1);
    await be.sync();
    tf = performance.now() - t0;
    meter.phase = "backward";
    backward(r.loss);
    return (await r.loss.value.toArray())[0];
  });
  const ms = performance.now() - t0;
  for (const p of model.params.values()) p.zeroGrad();
  return { ms, forwardMs: tf, loss };
}

// The step's tokens: random ids, each position's target the next id (the last one random).
let seed = 0x2545f491;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const ids = Array.from({ length: SEQ }, () => Math.floor(rnd() * config.vocabSize));
const targets = ids.map((_, i) => (i + 1 < SEQ ? ids[i + 1] : Math.floor(rnd() * 50257)));

async function bench(be: Backend): Promise<StepResult> {
  const t0 = performance.now();
  const model = buildModel(config, be, initWeights(config, 1234), "random weights");
  let weightBytes = 0;
  for (const p of model.params.values()) weightBytes += p.value.size * 4;
  if (!JSON_OUT) {
    console.error(
      `  ${be.description}: built ${(weightBytes / 4 / 1e6).toFixed(1)}M parameters in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
  }
  const meter = new Meter(be, false);
  const wasm = be.name === "wasm" ? be as WasmBackend : null;
  try {
    await step(model, meter, ids, targets); // warm-up
    wasm?.resetPeak();
    const times: number[] = [], fwd: number[] = [];
    let loss = 0;
    for (let r = 0; r < ROUNDS; r++) {
      meter.reset();
      const x = await step(model, meter, ids, targets);
      times.push(x.ms);
      fwd.push(x.forwardMs);
      loss = x.loss;
    }
    const flops = meter.flops.forward + meter.flops.backward;
    const ms = median(times);
    const result: StepResult = {
      backend: be.name,
      description: be.description,
      layers: config.nLayers,
      seq: SEQ,
      rounds: ROUNDS,
      ms,
      msAll: times,
      forwardMs: median(fwd),
      gflop: flops / 1e9,
      gflops: flops / 1e6 / ms,
      weightBytes,
      peakDeviceBytes: wasm ? wasm.peakBytes() : null,
      memoryBytes: wasm ? wasm.memory.buffer.byteLength : null,
      peakRssBytes: peakRssBytes(),
      dispatches: meter.dispatches,
      loss,
    };
    if (!JSON_OUT) {
      console.error(
        `  matmul FLOPs: forward ${(meter.flops.forward / 1e9).toFixed(2)} G, backward ${
          (meter.flops.backward / 1e9).toFixed(2)
        } G (${(meter.flops.backward / meter.flops.forward).toFixed(2)}x)`,
      );
    }
    if (PROFILE) {
      const prof = new Meter(be, true);
      await step(model, prof, ids, targets);
      const rows = [...prof.time.entries()].sort((a, b) => b[1].ms - a[1].ms);
      result.profile = rows.map(([kernel, e]) => ({ kernel, ms: e.ms, calls: e.calls }));
      const total = rows.reduce((a, [, e]) => a + e.ms, 0);
      if (JSON_OUT) {
        for (const [name, e] of rows) {
          console.log(
            JSON.stringify({ profile: name, backend: be.name, ms: e.ms, calls: e.calls }),
          );
        }
      } else {
        console.log(
          `\nper-kernel time on ${be.description} (one step, dispatch total ${
            total.toFixed(0)
          } ms):`,
        );
        for (const [name, e] of rows) {
          console.log(
            `  ${name.padEnd(24)} ${e.ms.toFixed(1).padStart(8)} ms ${
              (100 * e.ms / total).toFixed(1).padStart(5)
            }%  ${String(e.calls).padStart(5)} calls`,
          );
        }
      }
    }
    if (GENERATE) {
      const n = GENERATE_TOKENS;
      const t1 = performance.now();
      await generate(model, ids, { maxNewTokens: n });
      const t2 = performance.now();
      await generate(model, ids, { maxNewTokens: 3, cache: false });
      const t3 = performance.now();
      result.generation = {
        cachedMsPerToken: (t2 - t1) / n,
        fullMsPerToken: (t3 - t2) / 3,
        tokens: n,
      };
    }
    return result;
  } finally {
    disposeModel(model);
  }
}

const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;

function summary(r: StepResult): string {
  const peak = r.peakDeviceBytes;
  return [
    `${r.description}: GPT-2 small shape (${r.layers} layers), batch 1 x ${r.seq} tokens`,
    `  forward + backward: ${(r.ms / 1000).toFixed(2)} s median of ${r.rounds} (${
      r.msAll.map((x) => (x / 1000).toFixed(2)).join(", ")
    } s; forward ${(r.forwardMs / 1000).toFixed(2)} s)  target < 3 s: ${
      r.ms < 3000 ? "met" : "NOT met"
    }`,
    `  matmul work: ${r.gflop.toFixed(1)} GFLOP -> ${
      r.gflops.toFixed(1)
    } GFLOP/s, ${r.dispatches} dispatches`,
    `  weights ${mb(r.weightBytes)}; peak device ${
      peak === null ? "n/a" : `${mb(peak)} (${(peak / r.weightBytes).toFixed(2)}x)`
    }${r.memoryBytes === null ? "" : `; wasm memory ${mb(r.memoryBytes)}`}; peak RSS ${
      mb(r.peakRssBytes)
    } (${(r.peakRssBytes / r.weightBytes).toFixed(2)}x)` +
    `  target < 3x: ${peak === null ? "n/a" : peak < 3 * r.weightBytes ? "met" : "NOT met"}`,
    `  loss ${r.loss.toFixed(4)} (ln V = ${Math.log(config.vocabSize).toFixed(4)})`,
    ...(r.profile
      ? [
        `  kernel time: ${
          r.profile.slice(0, 6).map((p) => `${p.kernel} ${p.ms.toFixed(0)} ms`).join(", ")
        }, others ${r.profile.slice(6).reduce((a, p) => a + p.ms, 0).toFixed(0)} ms`,
      ]
      : []),
    ...(r.generation
      ? [
        `  generation after ${r.seq} prompt tokens: ${
          r.generation.cachedMsPerToken.toFixed(0)
        } ms/token with the KV cache (${r.generation.tokens} tokens, prefill included), ${
          r.generation.fullMsPerToken.toFixed(0)
        } ms/token recomputing the full forward`,
      ]
      : []),
    ...(r.pytorch
      ? [
        `  PyTorch ${r.pytorch.torch} CPU (${r.pytorch.threads} threads), same step and tokens: ${
          (r.pytorch.ms / 1000).toFixed(2)
        } s median of ${r.pytorch.msAll.length} (forward ${
          (r.pytorch.forwardMs / 1000).toFixed(2)
        } s), loss ${r.pytorch.loss.toFixed(4)}; PyTorch / kne time: ${
          (r.pytorch.ms / r.ms).toFixed(2)
        }x`,
        ...(r.pytorch.generation
          ? [
            `  PyTorch generation, same prompt: ${
              r.pytorch.generation.cachedMsPerToken.toFixed(0)
            } ms/token with its KV cache, ${
              r.pytorch.generation.fullMsPerToken.toFixed(0)
            } ms/token recomputing the full forward`,
          ]
          : []),
      ]
      : []),
  ].join("\n");
}

const results: StepResult[] = [];
const notes: string[] = [];

const wasm = await createWasmBackend(THREADS ? { threads: THREADS } : {});
const wasmThreads = wasm.threads;
try {
  results.push(await bench(wasm));
} finally {
  wasm.dispose();
}

if (!args.has("no-torch")) {
  const peer: PeerResult = await runTorchPeer(await torchPython(), "torch_model.py", {
    config,
    ids,
    targets,
    rounds: ROUNDS,
    threads: wasmThreads,
    ...(GENERATE ? { generate: GENERATE_TOKENS } : {}),
  });
  if (peer.ok) results[0].pytorch = peer.value as unknown as TorchStep;
  else notes.push(peer.note);
}

if (!args.has("no-webgpu")) {
  const adapter = await requestAdapter(true);
  if (!adapter) notes.push("webgpu: skipped (no adapter)");
  else if (adapter.info.isFallbackAdapter) {
    notes.push(
      `webgpu: skipped (only a fallback adapter, ${
        adapter.info.description || adapter.info.vendor || "software"
      }: too slow)`,
    );
  } else {
    const gpu = await createWebGpuBackend({ allowFallback: false });
    if (gpu) {
      try {
        results.push(await bench(gpu));
      } finally {
        gpu.dispose();
      }
    }
  }
}

for (const r of results) {
  if (JSON_OUT) console.log(JSON.stringify(r));
  else console.log(summary(r));
}
for (const n of notes) {
  if (JSON_OUT) console.log(JSON.stringify({ note: n }));
  else console.log(n);
}

if (!args.has("no-record")) {
  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  addEntry(
    "## Model step (bench/model.ts)",
    "One forward + backward of a GPT-2-small shaped model (random weights), batch 1, loss over\n" +
      "all positions; median after a warm-up. Targets: WASM under 3 s, peak under 3x the weights.",
    [
      entryHeading(["deno task bench:model", ...Deno.args].join(" ")),
      "",
      ...results.map((r) => "```\n" + summary(r) + "\n```"),
      ...notes.map((n) => `- ${n}`),
      `- machine: ${navigator.hardwareConcurrency} cores, load average ${load} at the end`,
      "",
    ].join("\n"),
  );
}
