// KNE edit benchmark at real-model shapes: wall time and peak memory of one KNE edit
// (integrated-gradient attribution with 4 steps, global top-p 0.01 ensemble, 20 masked Adam
// update steps with earlyStopLoss 0 so that all 20 run) of a 16-token prompt + target (12 prompt
// tokens, 4 target tokens: 15 teacher-forced positions) on models with random weights
// (src/model/build.ts initWeights; nothing is downloaded):
//
//   gpt2-small   GPT-2 small shape: 12 layers, d 768, 12 heads, ff 3072, vocab 50257
//   gpt2-medium  GPT-2 medium shape: 24 layers, d 1024, 16 heads, ff 4096, vocab 50257
//   llama-1b     Llama-style 1B shape: 16 layers, d 2048, 32 heads, 8 kv heads, ff 8192,
//                vocab 32000, untied head. When the planner (src/pipeline/plan.ts) says an edit of
//                a shape cannot fit the wasm32 4 GiB memory, the shape is reported with the
//                planner's numbers and not run; for the Llama family the largest layer count
//                of the same widths that fits is run instead, labelled with its layer count.
//
// Each model runs in its own child process (clean peak RSS and WASM memory), --warmup edits (1
// unless told) then --edits timed edits (median reported); the weights are restored from the edit's exact
// changes between edits, so every edit does identical work. Per phase: attribution (as timed
// by attribute()), selection (selectEnsemble, timed again on the same scores), update (as timed
// by maskedUpdate()) and other (the remainder of kneEdit: UnitSnapshot.take and the diff, and the
// anchors' reference forward with --anchors). Memory: the
// backend's peak allocated bytes, the WASM memory size, the process's peak RSS (VmHWM, reset
// before each edit), all relative to the weight bytes, next to the planner's prediction.
//
//   deno task bench:edit [--json] [--quick] [--profile] [--edits=N] [--warmup=N] [--models=a,b]
//                        [--anchors=N] [--force] [--llama-layers=N] [--threads=N]
//                        [--dtypes=f32,f16] [--no-wasm] [--no-webgpu] [--webgpu-fallback]
//                        [--checkpoint] [--no-torch] [--no-record]
//
// --quick runs only gpt2-small; --profile adds one more edit with every dispatch timed (WASM:
// wall time, dispatch is synchronous; WebGPU: GPU timestamps, one pass per dispatch) and the
// time outside kernels per phase; --anchors=N adds the KL
// term over N random locality prompts at the default KL weight (the edit command uses up to 48);
// --force runs shapes the planner rejects (to measure what they really use; a failure is
// reported); --llama-layers picks the Llama layer count; --dtypes the weight matrices' dtypes
// to run (default f32 on WASM, f16 on WebGPU); --webgpu-fallback runs WebGPU on a software
// adapter (lavapipe) too, which is otherwise skipped as too slow; --checkpoint checkpoints the
// layers whether or not the planner needs it (to measure what it costs); --json prints one object
// per line.
// PyTorch CPU is the peer of every WASM f32 row, in the same run (after the row's child, not
// beside it), when a python3 imports torch (Debian's python3-torch; CI does not install it;
// --no-torch skips it): the same edit of the same shape and tokens, written as a PyTorch user
// would write it (bench/peers/torch_edit.py: dense gradients, then the mask), with the WASM
// backend's thread count, f32, --warmup then --edits edits; its median per edit and phases and
// the ratio are printed under the row, or a note says why it was not measured.
// Each edit's digest (FNV-1a of every unit score, the ensemble, the losses and the changes) shows
// that an optimisation of src/kne/ left the results bit-identical. Unless --no-record, a dated
// entry is added to bench/RESULTS.md under "## KNE edit at model scale (bench/edit.ts)". Target
// (issue "Real-model scale"): GPT-2 small shape, WASM, under 10 s per edit on the 2-core machine.

import { type Backend, type DType, DTYPE_BYTES } from "../engine/backend.ts";
import { createWasmBackend, type WasmBackend } from "../engine/wasm/backend.ts";
import { createWebGpuBackend, requestAdapter } from "../engine/webgpu/backend.ts";
import { teacherForced } from "../src/edit/request.ts";
import { UnitSnapshot, writeChanges } from "../src/edit/snapshot.ts";
import { attribute } from "../src/kne/attribution.ts";
import { ensembleSelections, selectEnsemble } from "../src/kne/ensemble.ts";
import { KNE_DEFAULTS, type KneHparams } from "../src/kne/hparams.ts";
import { kneEdit } from "../src/kne/kne.ts";
import { freeAnchor, localityAnchors } from "../src/kne/locality.ts";
import { maskedUpdate } from "../src/kne/update.ts";
import { buildModel, disposeModel, initWeights } from "../src/model/build.ts";
import type { ModelConfig } from "../src/model/config.ts";
import type { CausalLM } from "../src/model/lm.ts";
import {
  type BackendLimits,
  backendLimits,
  fitPlan,
  formatBytes,
  planProblems,
} from "../src/pipeline/plan-fit.ts";
import type { MemoryPlan } from "../src/pipeline/plan.ts";
import { median } from "../src/eval/aggregate.ts";
import { NO_TORCH_NOTE, runTorchPeer, torchPython } from "./peers/torch.ts";
import { benchFlags } from "./flags.ts";

const args = benchFlags([
  "json",
  "profile",
  "edits",
  "warmup",
  "threads",
  "checkpoint",
  "force",
  "anchors",
  "dtypes",
  "models",
  "llama-layers",
  "quick",
  "no-wasm",
  "no-webgpu",
  "webgpu-fallback",
  "no-torch",
  "no-record",
  // The child process that runs one shape (runChild), started by the parent with these.
  "child",
  "model",
  "layers",
  "backend",
  "dtype",
]);
const JSON_OUT = args.has("json");
const PROFILE = args.has("profile");
const EDITS = args.int("edits", 3, 1);
/** Untimed edits first (0 for shapes that take most of an hour per edit on a software adapter). */
const WARMUP = args.int("warmup", 1, 0);
const THREADS = args.has("threads") ? args.int("threads", 1, 1) : undefined;
/** Checkpoint the layers even where the planner would not. */
const CHECKPOINT = args.has("checkpoint");
/** Run shapes the planner rejects (to measure how far off it is); a failure is reported. */
const FORCE = args.has("force");
const PROMPT_TOKENS = 12;
const TARGET_TOKENS = 4;
/**
 * Locality anchors: with N > 0, N unrelated 12-token prompts and the default KL weight, as the
 * edit command runs KNE (it builds up to 48 anchors per edit). The default 0 measures the edit
 * alone, as the issue's target specifies.
 */
const ANCHORS = args.int("anchors", 0, 0);
/** The Llama shape's layers instead of its 16 (a shorter run with the same per-layer work). */
const LLAMA_LAYERS = args.has("llama-layers") ? args.int("llama-layers", 0, 1) : undefined;

/**
 * The issue's work: 4 IG steps, top-p 0.01, exactly 20 update steps. The learning rate, unit
 * score and Adam betas are KNE_DEFAULTS' (they change the edit's numbers, not its cost).
 */
const HP: KneHparams = {
  ...KNE_DEFAULTS,
  igSteps: 4,
  topP: 0.01,
  selection: "global",
  steps: 20,
  earlyStopLoss: 0,
  klWeight: ANCHORS > 0 ? KNE_DEFAULTS.klWeight : 0,
};

const GPT2_BASE = {
  architecture: "gpt2",
  hfClass: "GPT2LMHeadModel",
  vocabSize: 50257,
  contextLength: 1024,
  normEps: 1e-5,
  ropeTheta: 10000,
  tieEmbeddings: true,
  qkvBias: true,
  bosTokenId: 50256,
  eosTokenId: 50256,
} as const;

function llamaConfig(layers: number): ModelConfig {
  return {
    architecture: "llama",
    hfClass: "LlamaForCausalLM",
    vocabSize: 32000,
    contextLength: 2048,
    dModel: 2048,
    nLayers: layers,
    nHeads: 32,
    nKvHeads: 8,
    dFF: 8192,
    normEps: 1e-5,
    ropeTheta: 10000,
    tieEmbeddings: false,
    qkvBias: false,
    bosTokenId: 1,
    eosTokenId: 2,
  };
}

interface Shape {
  key: string;
  label: string;
  config: ModelConfig;
  /** For a family: smaller layer counts of the same widths to fall back to. */
  family?: (layers: number) => ModelConfig;
}

const SHAPES: Shape[] = [
  {
    key: "gpt2-small",
    label: "GPT-2 small shape",
    config: { ...GPT2_BASE, dModel: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, dFF: 3072 },
  },
  {
    key: "gpt2-medium",
    label: "GPT-2 medium shape",
    config: { ...GPT2_BASE, dModel: 1024, nLayers: 24, nHeads: 16, nKvHeads: 16, dFF: 4096 },
  },
  {
    key: "llama-1b",
    label: "Llama-style 1B shape",
    config: llamaConfig(16),
    family: llamaConfig,
  },
];

function describe(c: ModelConfig): string {
  return `${c.nLayers} x ${c.dModel}, ${c.nHeads} heads${
    c.nKvHeads !== c.nHeads ? ` (${c.nKvHeads} kv)` : ""
  }, ff ${c.dFF}, vocab ${c.vocabSize}`;
}

const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");

function peakRssBytes(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss;
}

/** Resets the kernel's peak-RSS counter (Linux: writing 5 to clear_refs); false if it cannot. */
function resetPeakRss(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** The plan of one edit of `c`, attribution split into the fewest layer groups that fit. */
function plan(c: ModelConfig, weightDtype: DType, limits: BackendLimits): MemoryPlan {
  return fitPlan(c, {
    weightDtype,
    ensemble: HP,
    seqLen: PROMPT_TOKENS + TARGET_TOKENS - 1,
    batch: 1,
    igSteps: HP.igSteps,
    updateSteps: HP.steps,
    klRows: ANCHORS,
    klSeqLen: PROMPT_TOKENS,
    targetTokens: TARGET_TOKENS,
    backend: limits.backend,
    checkpointLayers: CHECKPOINT,
  }, limits);
}

interface PlanSummary {
  weights: number;
  attributionPeak: number;
  updatePeak: number;
  devicePeak: number;
  hostExtra: number;
  gflop: number;
}

function planSummary(p: MemoryPlan): PlanSummary {
  const b = p.bytes;
  return {
    weights: b.weights,
    attributionPeak: b.attributionPeak,
    updatePeak: b.updatePeak,
    devicePeak: b.devicePeak,
    hostExtra: b.hostExtra,
    gflop: p.flops / 1e9,
  };
}

/**
 * The edit's prompt and target tokens and the anchors' prompts: random ids of the model's
 * vocabulary, the same for every backend and for the PyTorch peer.
 */
function editTokens(vocab: number): { prompt: number[]; target: number[]; anchors: number[][] } {
  let s = 0x2545f491;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const tok = () => Math.floor(rnd() * vocab);
  const prompt = Array.from({ length: PROMPT_TOKENS }, tok);
  const target = Array.from({ length: TARGET_TOKENS }, tok);
  const anchors = Array.from({ length: ANCHORS }, () => Array.from({ length: PROMPT_TOKENS }, tok));
  return { prompt, target, anchors };
}

/** The PyTorch peer's edit (bench/peers/torch_edit.py's output), for a WASM f32 row. */
interface TorchEdit {
  ms: number;
  msAll: number[];
  phases: { attribution: number; selection: number; update: number; other: number };
  ensembleUnits: number;
  totalUnits: number;
  changedEntries: number;
  targetProbBefore: number;
  steps: number;
  lossFirst: number;
  lossLast: number;
  torch: string;
  threads: number;
}

interface EditResult {
  shape: string;
  label: string;
  config: string;
  backend: string;
  description: string;
  /** WASM: the backend's threads (the PyTorch peer runs with as many). */
  threads: number | null;
  /** Device dtype of the weight matrices. */
  dtype: DType;
  /** Layer groups attribution ran in (the planner's choice to fit). */
  attributionChunks: number;
  /** Whether the layers were checkpointed (the planner's choice to fit). */
  checkpointLayers: boolean;
  params: number;
  weightBytes: number;
  tokens: number;
  /** Locality anchors (0: no KL term). */
  anchors: number;
  /** Update steps run (all of HP.steps unless the edit diverged). */
  steps: number;
  edits: number;
  /** Median per-edit wall time (kneEdit), ms, and every timed edit's. */
  ms: number;
  msAll: number[];
  /** Median per phase, ms. */
  /**
   * other: the rest of kneEdit, i.e. UnitSnapshot.take and the diff of the ensemble entries, and
   * with --anchors the unedited model's reference forward over the anchors.
   */
  phases: { attribution: number; selection: number; update: number; other: number };
  buildSeconds: number;
  peakDeviceBytes: number | null;
  /** Peak allocated bytes in the attribution path and after it (scoring, snapshot, update). */
  peakPhaseBytes: { attribution: number; update: number } | null;
  memoryBytes: number | null;
  peakRssBytes: number;
  /** Whether the peak RSS was reset before each edit (else it includes the model build). */
  rssReset: boolean;
  plan: PlanSummary;
  /** What the edit did (identical in every timed edit). */
  ensembleUnits: number;
  totalUnits: number;
  changedEntries: number;
  /** Parameter entries inside the ensemble: the most an edit may change. */
  ensembleParams: number;
  targetProbBefore: number;
  lossFirst: number;
  lossLast: number;
  /** digest() of the edits (warm-up included): one value when every edit gave the same. */
  digest: string;
  loadBefore: string;
  loadAfter: string;
  profile?: {
    phases: { phase: string; ms: number; kernelMs: number }[];
    kernels: { kernel: string; ms: number; calls: number }[];
    /** Matmuls by kernel and batch x m x n x k, largest time first. */
    matmuls: { kernel: string; ms: number; calls: number }[];
  };
  /** WASM f32 rows: the same edit in PyTorch CPU (set by the parent after the child). */
  pytorch?: TorchEdit;
}

/**
 * FNV-1a over the bits of what an edit produced: every unit's attribution score, the ensemble,
 * the losses and the changed entries. Equal digests before and after an optimisation of
 * src/kne/ show that it left the results bit-identical.
 */
function digest(r: Awaited<ReturnType<typeof kneEdit>>): string {
  let h = 0x811c9dc5;
  const mix = (u: number) => {
    h = Math.imul(h ^ (u & 0xff), 16777619);
    h = Math.imul(h ^ ((u >>> 8) & 0xff), 16777619);
    h = Math.imul(h ^ ((u >>> 16) & 0xff), 16777619);
    h = Math.imul(h ^ (u >>> 24), 16777619);
  };
  const f32 = (a: Float32Array) => {
    const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (let i = 0; i < u.length; i++) mix(u[i]);
  };
  for (const t of r.attribution.tensors) f32(t.unitScores);
  for (const t of r.ensemble.tensors) for (const u of t.units) mix(u);
  f32(Float32Array.from(r.update.losses));
  for (const c of r.changes) {
    for (const i of c.indices) mix(i);
    f32(c.after);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/**
 * Times every dispatch by kernel name and by the current phase label through the backend's own
 * profiling (Backend.profileDispatches: on WASM the wall time of each synchronous dispatch, on
 * WebGPU the GPU timestamps of each, one pass per dispatch), collected at the end of each phase.
 */
class Profiler {
  phase = "";
  kernels = new Map<string, { ms: number; calls: number }>();
  /** Matmuls by name and [batch, m, n, k]. */
  shapes = new Map<string, { ms: number; calls: number }>();
  phaseKernelMs = new Map<string, number>();
  constructor(readonly be: Backend) {
    be.profileDispatches(true);
  }
  #add(name: string, params: readonly number[], ms: number): void {
    const e = this.kernels.get(name) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls++;
    this.kernels.set(name, e);
    if (name.startsWith("matmul")) {
      const key = `${name} ${params.slice(0, 4).join("x")}`;
      const f = this.shapes.get(key) ?? { ms: 0, calls: 0 };
      f.ms += ms;
      f.calls++;
      this.shapes.set(key, f);
    }
    this.phaseKernelMs.set(this.phase, (this.phaseKernelMs.get(this.phase) ?? 0) + ms);
  }
  /** Counts the times of the phase's dispatches. */
  async endPhase(): Promise<void> {
    for (const t of await this.be.takeDispatchTimes()) this.#add(t.name, t.params, t.ms);
  }
  restore(): void {
    this.be.profileDispatches(false);
  }
}

/** One edit by kneEdit's steps, each phase timed, every dispatch timed. */
async function profiledEdit(
  model: CausalLM,
  rows: ReturnType<typeof teacherForced>[],
  anchors: number[][],
  chunks: number,
): Promise<NonNullable<EditResult["profile"]>> {
  const prof = new Profiler(model.backend);
  const phases: { phase: string; ms: number; kernelMs: number }[] = [];
  const timed = async <T>(phase: string, fn: () => Promise<T> | T): Promise<T> => {
    prof.phase = phase;
    const t0 = performance.now();
    const r = await fn();
    await prof.endPhase();
    phases.push({
      phase,
      ms: performance.now() - t0,
      kernelMs: prof.phaseKernelMs.get(phase) ?? 0,
    });
    return r;
  };
  try {
    const attr = await timed("attribution", () => attribute(model, rows, HP, undefined, chunks));
    const ens = await timed("selection", () => selectEnsemble(attr, HP));
    const snap = await timed(
      "snapshot take",
      () => UnitSnapshot.take(model, ensembleSelections(ens)),
    );
    await timed("update", async () => {
      const groups = HP.klWeight > 0 && anchors.length > 0
        ? localityAnchors(model, anchors, HP.klAnchorsPerStep)
        : [];
      try {
        return await maskedUpdate(model, rows, ens, HP, groups, undefined, true);
      } finally {
        for (const a of groups.flat()) freeAnchor(a);
      }
    });
    const changes = await timed("snapshot diff", () => snap.changes());
    writeChanges(model, changes, "before");
  } finally {
    prof.restore();
  }
  const sorted = (m: Map<string, { ms: number; calls: number }>) =>
    [...m.entries()].sort((a, b) => b[1].ms - a[1].ms)
      .map(([kernel, e]) => ({ kernel, ms: e.ms, calls: e.calls }));
  return { phases, kernels: sorted(prof.kernels), matmuls: sorted(prof.shapes) };
}

async function runChild(): Promise<void> {
  try {
    await childEdits();
  } catch (e) {
    // Reported to the parent (an out-of-memory RangeError when a forced shape does not fit).
    console.log(JSON.stringify({ error: `${(e as Error).name}: ${(e as Error).message}` }));
    Deno.exit(1);
  }
}

async function childEdits(): Promise<void> {
  const shape = SHAPES.find((s) => s.key === args.get("model"))!;
  const config = shape.family && args.has("layers")
    ? shape.family(args.int("layers", 0, 1))
    : shape.config;
  const loadBefore = load();
  const be: Backend = args.get("backend") === "webgpu"
    ? (await createWebGpuBackend({ allowFallback: args.has("webgpu-fallback") }))!
    : await createWasmBackend(THREADS ? { threads: THREADS } : {});
  const wasm = be.name === "wasm" ? be as WasmBackend : null;
  try {
    const t0 = performance.now();
    const dtype = (args.get("dtype") ?? "f32") as DType;
    const planned = plan(config, dtype, backendLimits(be));
    const model = buildModel(config, be, initWeights(config, 1234), "random weights", dtype);
    model.checkpointLayers = planned.options.checkpointLayers;
    const buildSeconds = (performance.now() - t0) / 1000;
    let weightBytes = 0, params = 0;
    for (const p of model.params.values()) {
      (weightBytes += p.value.size * DTYPE_BYTES[p.value.dtype], params += p.value.size);
    }
    const progress = (s: string) => {
      if (!JSON_OUT) console.error(`  [${shape.key} ${be.name}] ${s}`);
    };
    progress(`built ${(params / 1e6).toFixed(1)}M parameters in ${buildSeconds.toFixed(1)} s`);

    const { prompt, target, anchors } = editTokens(config.vocabSize);
    const rows = [teacherForced(prompt, target, config.contextLength)];

    const times: number[] = [];
    const ph = { attribution: [] as number[], selection: [] as number[], update: [] as number[] };
    const snapMs: number[] = [];
    let peakDevice = 0, peakAttr = 0, peakUpdate = 0, peakRss = 0, rssReset = true;
    let last: Awaited<ReturnType<typeof kneEdit>> | null = null;
    const digests = new Set<string>();
    for (let e = -WARMUP; e < EDITS; e++) {
      wasm?.resetPeak();
      rssReset = resetPeakRss() && rssReset;
      const t1 = performance.now();
      let attrPeak = 0, lastReport = t1;
      const r = await kneEdit(model, rows, HP, anchors, (p) => {
        // Steps of a slow edit (a software adapter, a large shape), at most one line per 10 s.
        const now = performance.now();
        if (now - lastReport > 10_000) {
          lastReport = now;
          progress(
            `  ${e < 0 ? "warm-up" : `edit ${e + 1}`}: ${p.phase} step ${p.step}/${p.of} at ${
              ((now - t1) / 1000).toFixed(0)
            } s, load ${load()}`,
          );
        }
        // The path's last step is done: the attribution peak. The update's is measured from the
        // end of its first step (attribution's gradients are freed by then and the optimizer
        // state is allocated after it), so steps 2.. hold everything the update keeps.
        if (!wasm) return;
        if (p.phase === "attribution" && p.step === p.of) attrPeak = wasm.peakBytes();
        if (p.phase === "update" && p.step === 1) wasm.resetPeak();
      }, planned.options.attributionChunks);
      const ms = performance.now() - t1;
      if (r.rolledBack) throw new Error("the edit diverged and was rolled back");
      const t2 = performance.now();
      selectEnsemble(r.attribution, HP);
      const selMs = performance.now() - t2;
      const rss = peakRssBytes();
      const t3 = performance.now();
      writeChanges(model, r.changes, "before");
      await be.sync();
      const restoreMs = performance.now() - t3;
      const d = digest(r);
      digests.add(d);
      progress(
        `${e < 0 ? "warm-up" : `edit ${e + 1}/${EDITS}`}: ${(ms / 1000).toFixed(2)} s ` +
          `(attribution ${r.attribution.seconds.toFixed(2)} s, update ${
            r.update.seconds.toFixed(2)
          } s), loss ${r.update.losses[0].toFixed(3)} -> ${r.update.losses.at(-1)!.toFixed(3)}, ` +
          `digest ${d}; weights restored in ${restoreMs.toFixed(0)} ms; load ${load()}`,
      );
      if (e < 0) continue;
      times.push(ms);
      ph.attribution.push(r.attribution.seconds * 1000);
      ph.update.push(r.update.seconds * 1000);
      ph.selection.push(selMs);
      snapMs.push(ms - r.attribution.seconds * 1000 - r.update.seconds * 1000 - selMs);
      if (wasm) {
        peakAttr = Math.max(peakAttr, attrPeak);
        peakUpdate = Math.max(peakUpdate, wasm.peakBytes());
        peakDevice = Math.max(peakAttr, peakUpdate);
      }
      peakRss = Math.max(peakRss, rss);
      last = r;
    }
    const r = last!;
    const result: EditResult = {
      shape: shape.key,
      label: shape.label,
      config: describe(config),
      backend: be.name,
      description: be.description,
      threads: wasm ? wasm.threads : null,
      dtype,
      attributionChunks: planned.options.attributionChunks,
      checkpointLayers: planned.options.checkpointLayers,
      params,
      weightBytes,
      tokens: PROMPT_TOKENS + TARGET_TOKENS,
      anchors: ANCHORS,
      steps: r.update.steps,
      edits: EDITS,
      ms: median(times),
      msAll: times,
      phases: {
        attribution: median(ph.attribution),
        selection: median(ph.selection),
        update: median(ph.update),
        other: median(snapMs),
      },
      buildSeconds,
      peakDeviceBytes: wasm ? peakDevice : null,
      peakPhaseBytes: wasm ? { attribution: peakAttr, update: peakUpdate } : null,
      memoryBytes: wasm ? wasm.memory.buffer.byteLength : null,
      peakRssBytes: peakRss,
      rssReset,
      plan: planSummary(planned),
      ensembleUnits: r.ensemble.selectedUnits,
      totalUnits: r.ensemble.totalUnits,
      changedEntries: r.changes.reduce((a, c) => a + c.indices.length, 0),
      ensembleParams: r.ensembleParams,
      targetProbBefore: r.attribution.targetProb,
      lossFirst: r.update.losses[0],
      lossLast: r.update.losses.at(-1)!,
      digest: [...digests].join(" "),
      loadBefore,
      loadAfter: load(),
    };
    if (PROFILE) {
      progress("profiled edit");
      result.profile = await profiledEdit(model, rows, anchors, planned.options.attributionChunks);
    }
    disposeModel(model);
    console.log(JSON.stringify(result));
  } finally {
    await be.dispose();
  }
}

// ---- parent: plans, picks the shapes that fit, runs each in a child, reports ----

const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
const x = (b: number, w: number) => `${(b / w).toFixed(2)}x`;

function summary(r: EditResult): string {
  const w = r.weightBytes, p = r.plan;
  const sec = (ms: number) => (ms / 1000).toFixed(2);
  const lines = [
    `${r.description}: ${r.label} (${r.config}), ${(r.params / 1e6).toFixed(1)}M parameters ` +
    `(${r.dtype} matrices), ` +
    `${r.tokens} tokens (prompt ${PROMPT_TOKENS} + target ${TARGET_TOKENS})`,
    `  KNE edit (${HP.igSteps} IG steps, top-p ${HP.topP}, ${r.steps} update steps, lr ${HP.lr}, ${HP.unitScore}${
      r.anchors > 0 ? `, KL weight ${HP.klWeight} over ${r.anchors} anchors` : ", no KL term"
    }): ${sec(r.ms)} s median of ${r.edits} (${r.msAll.map(sec).join(", ")} s${
      WARMUP === 0 ? "; no warm-up edit" : ""
    })` +
    (r.shape === "gpt2-small" && r.backend === "wasm" && r.anchors === 0
      ? `  target < 10 s: ${r.ms < 10000 ? "met" : "NOT met"}`
      : ""),
    `  phases: attribution ${sec(r.phases.attribution)} s, selection ${
      sec(r.phases.selection)
    } s, update ${sec(r.phases.update)} s, other (snapshot + diff${
      r.anchors ? ", anchor reference forward" : ""
    }) ${sec(r.phases.other)} s${
      r.attributionChunks > 1
        ? `; attribution in ${r.attributionChunks} layer groups (to fit, planner)`
        : ""
    }${
      r.checkpointLayers
        ? `; layers checkpointed (${CHECKPOINT ? "--checkpoint" : "to fit, planner"})`
        : ""
    }`,
    `  weights ${mb(w)}; peak device ${
      r.peakDeviceBytes === null ? "n/a" : `${mb(r.peakDeviceBytes)} (${x(r.peakDeviceBytes, w)})`
    }${
      r.peakPhaseBytes
        ? ` (attribution ${mb(r.peakPhaseBytes.attribution)}, update ${
          mb(r.peakPhaseBytes.update)
        })`
        : ""
    }${r.memoryBytes === null ? "" : `; wasm memory ${mb(r.memoryBytes)}`}; peak RSS ${
      mb(r.peakRssBytes)
    } (${x(r.peakRssBytes, w)}${r.rssReset ? "" : ", includes the build"})`,
    `  planner: device peak ${mb(p.devicePeak)} (${x(p.devicePeak, w)}; attribution ${
      mb(p.attributionPeak)
    }, update ${mb(p.updatePeak)}), host extra ${mb(p.hostExtra)}, ${
      p.gflop.toFixed(0)
    } GFLOP per edit -> ${(p.gflop / (r.ms / 1000)).toFixed(1)} GFLOP/s`,
    `  edit: ${r.ensembleUnits} of ${r.totalUnits} units, ${r.changedEntries} of their ${r.ensembleParams} entries changed, ` +
    `target p ${r.targetProbBefore.toExponential(2)}, loss ${r.lossFirst.toFixed(3)} -> ${
      r.lossLast.toFixed(3)
    }, digest ${r.digest}; built in ${
      r.buildSeconds.toFixed(1)
    } s; load ${r.loadBefore} -> ${r.loadAfter}`,
  ];
  if (r.pytorch) {
    const t = r.pytorch;
    lines.push(
      `  PyTorch ${t.torch} CPU (${t.threads} threads, f32), the same edit written plainly ` +
        `(dense gradients, then the mask): ${sec(t.ms)} s median of ${t.msAll.length} ` +
        `(attribution ${sec(t.phases.attribution)} s, selection ${sec(t.phases.selection)} s, ` +
        `update ${sec(t.phases.update)} s, other ${sec(t.phases.other)} s); ${t.ensembleUnits} ` +
        `of ${t.totalUnits} units, ${t.changedEntries} entries changed, loss ${
          t.lossFirst.toFixed(3)
        } -> ${t.lossLast.toFixed(3)}; PyTorch / kne time: ${(t.ms / r.ms).toFixed(2)}x`,
    );
  }
  if (r.profile) {
    lines.push(
      `  profiled edit: ${
        r.profile.phases.map((q) =>
          `${q.phase} ${sec(q.ms)} s (kernels ${sec(q.kernelMs)}, host ${sec(q.ms - q.kernelMs)})`
        ).join(", ")
      }`,
      `  kernels: ${
        r.profile.kernels.slice(0, 8).map((k) => `${k.kernel} ${sec(k.ms)} s/${k.calls}`).join(
          ", ",
        )
      }, others ${sec(r.profile.kernels.slice(8).reduce((a, k) => a + k.ms, 0))} s`,
      `  matmuls (batch x m x n x k): ${
        r.profile.matmuls.slice(0, 8).map((k) =>
          `${k.kernel} ${sec(k.ms)} s/${k.calls} (${(k.ms / k.calls).toFixed(1)} ms, ${
            (2 * k.kernel.split(" ")[1].split("x").reduce((a, b) => a * Number(b), 1) / 1e6 /
              (k.ms / k.calls)).toFixed(0)
          } GFLOP/s)`
        ).join(", ")
      }`,
    );
  }
  return lines.join("\n");
}

/** The same edit of `config` in PyTorch CPU (bench/peers/torch_edit.py), or why it did not run. */
function torchEdit(py: string | null, config: ModelConfig, threads: number) {
  return runTorchPeer(py, "torch_edit.py", {
    config,
    ...editTokens(config.vocabSize),
    hp: HP,
    edits: EDITS,
    warmup: WARMUP,
    threads,
  });
}

interface Skip {
  shape: string;
  backend: string;
  dtype: DType;
  note: string;
}

/** The weight dtypes to run on `backend`: --dtypes, else f32 on WASM and f16 on WebGPU. */
function dtypesFor(backend: "wasm" | "webgpu"): DType[] {
  return (args.list("dtypes", ["f32", "f16"]) ?? [backend === "wasm" ? "f32" : "f16"]) as DType[];
}

async function runParent(): Promise<void> {
  const only = args.list("models", SHAPES.map((s) => s.key));
  const shapes = args.has("quick")
    ? SHAPES.slice(0, 1)
    : SHAPES.filter((s) => !only || only.includes(s.key));
  const backends: ("wasm" | "webgpu")[] = args.has("no-wasm") ? [] : ["wasm"];
  const notes: string[] = [];
  const py = args.has("no-torch") ? null : await torchPython();
  if (!args.has("no-webgpu")) {
    const adapter = await requestAdapter(true);
    if (!adapter) notes.push("webgpu: skipped (no adapter)");
    else if (adapter.info.isFallbackAdapter && !args.has("webgpu-fallback")) {
      notes.push(
        `webgpu: skipped (only a fallback adapter, ${
          adapter.info.description || adapter.info.vendor || "software"
        }: too slow for model-scale edits)`,
      );
    } else backends.push("webgpu");
  }
  // The WASM limits without a model: a one-thread backend holds only its packing space.
  const probe = await createWasmBackend({ threads: 1 });
  const wasmLimits: BackendLimits = backendLimits(probe);
  await probe.dispose();

  const results: EditResult[] = [];
  const skips: Skip[] = [];
  for (const backend of backends) {
    for (const dtype of dtypesFor(backend)) {
      for (const shape of shapes) {
        let config = shape.config;
        if (shape.family && LLAMA_LAYERS !== undefined) config = shape.family(LLAMA_LAYERS);
        if (backend === "wasm") {
          const p = plan(config, dtype, wasmLimits);
          const problems = planProblems(p, wasmLimits, "edit");
          if (problems.length > 0) {
            let note = `${shape.label} (${describe(config)}, ${
              (p.params.total / 1e6).toFixed(0)
            }M parameters, weights ${formatBytes(p.bytes.weights)}) does not fit by the planner: ${
              problems.join("; ")
            } (attribution peak ${formatBytes(p.bytes.attributionPeak)}, update peak ${
              formatBytes(p.bytes.updatePeak)
            })`;
            let fallback: ModelConfig | null = null;
            if (FORCE) note += "; run anyway (--force)";
            else if (shape.family) {
              for (let l = config.nLayers - 1; l >= 1 && !fallback; l--) {
                const c = shape.family(l);
                if (planProblems(plan(c, dtype, wasmLimits), wasmLimits, "edit").length === 0) {
                  fallback = c;
                }
              }
              if (fallback) {
                const p2 = plan(fallback, dtype, wasmLimits);
                note += `; running the largest layer count of the same widths that the planner ` +
                  `admits instead: ${describe(fallback)} (${
                    (p2.params.total / 1e6).toFixed(0)
                  }M parameters, planner device peak ${formatBytes(p2.bytes.devicePeak)})`;
              }
            }
            skips.push({ shape: shape.key, backend, dtype, note });
            if (!fallback && !FORCE) continue;
            config = fallback ?? config;
          }
        }
        const childArgs = [
          "run",
          "-A",
          new URL(import.meta.url).pathname,
          "--child",
          `--model=${shape.key}`,
          `--backend=${backend}`,
          `--dtype=${dtype}`,
          `--edits=${EDITS}`,
          `--warmup=${WARMUP}`,
          `--anchors=${ANCHORS}`,
          ...(config !== shape.config ? [`--layers=${config.nLayers}`] : []),
          ...(THREADS ? [`--threads=${THREADS}`] : []),
          ...(PROFILE ? ["--profile"] : []),
          ...(CHECKPOINT ? ["--checkpoint"] : []),
          ...(args.has("webgpu-fallback") ? ["--webgpu-fallback"] : []),
          ...(JSON_OUT ? ["--json"] : []),
        ];
        if (!JSON_OUT) {
          console.error(`${shape.key} on ${backend}, ${dtype} matrices: ${describe(config)}`);
        }
        const out = await new Deno.Command(Deno.execPath(), {
          args: childArgs,
          stdout: "piped",
          stderr: "inherit",
        }).output();
        const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
        const parsed = text.startsWith("{") ? JSON.parse(text) : null;
        if (!out.success || !parsed || parsed.error) {
          skips.push({
            shape: shape.key,
            backend,
            dtype,
            note: `${shape.label} (${describe(config)}) failed: ${
              parsed?.error ?? `exit code ${out.code}`
            }`,
          });
          continue;
        }
        const r = parsed as EditResult;
        if (config !== shape.config) {
          r.label =
            `${shape.label}, reduced to ${config.nLayers} of ${shape.config.nLayers} layers`;
        }
        if (backend === "wasm" && dtype === "f32" && !args.has("no-torch")) {
          if (!JSON_OUT && py) console.error(`${shape.key} in PyTorch CPU: the same edit`);
          const peer = await torchEdit(py, config, r.threads ?? 1);
          if (peer.ok) r.pytorch = peer.value as unknown as TorchEdit;
          else if (peer.note !== NO_TORCH_NOTE) notes.push(`${r.label}: ${peer.note}`);
          else if (!notes.includes(peer.note)) notes.push(peer.note);
        }
        results.push(r);
        if (!JSON_OUT) console.log(summary(r) + "\n");
        else console.log(JSON.stringify(r));
      }
    }
  }
  for (const s of skips) {
    notes.push(`${s.backend} (${s.dtype} matrices): ${s.note}`);
  }
  notes.push("WebGPU on a real GPU (H100): not measured (no GPU lent)");
  for (const n of notes) {
    if (JSON_OUT) console.log(JSON.stringify({ note: n }));
    else console.log(`- ${n}`);
  }

  if (!args.has("no-record")) record(results, notes);
}

function record(results: EditResult[], notes: string[]): void {
  const file = new URL("./RESULTS.md", import.meta.url);
  const heading = "## KNE edit at model scale (bench/edit.ts)";
  let text = "";
  try {
    text = Deno.readTextFileSync(file);
  } catch { /* new file */ }
  const sec = (ms: number) => (ms / 1000).toFixed(2);
  const table = [
    "| model | backend | matrices | params | edit (s) | attribution | selection | update | other | PyTorch edit (s), PyTorch / kne | peak device / weights | peak RSS / weights | planner peak / weights | load (before -> after) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...results.map((r) =>
      `| ${r.label} (${r.config}${
        r.anchors ? `; KL over ${r.anchors} anchors` : ""
      }) | ${r.description} | ${r.dtype} | ${(r.params / 1e6).toFixed(0)}M | ${sec(r.ms)} | ${
        sec(r.phases.attribution)
      } | ${sec(r.phases.selection)} | ${sec(r.phases.update)} | ${sec(r.phases.other)} | ${
        r.pytorch ? `${sec(r.pytorch.ms)}, ${(r.pytorch.ms / r.ms).toFixed(2)}x` : "n/a"
      } | ${r.peakDeviceBytes === null ? "n/a" : x(r.peakDeviceBytes, r.weightBytes)} | ${
        x(r.peakRssBytes, r.weightBytes)
      } | ${x(r.plan.devicePeak, r.weightBytes)} | ${r.loadBefore} -> ${r.loadAfter} |`
    ),
  ];
  const entry = [
    `### ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC: \`${
      ["deno task bench:edit", ...Deno.args].join(" ")
    }\``,
    "",
    ...table,
    "",
    ...results.map((r) => "```\n" + summary(r) + "\n```"),
    ...notes.map((n) => `- ${n}`),
    `- machine: ${navigator.hardwareConcurrency} cores, ${
      formatBytes(Deno.systemMemoryInfo().total)
    } memory, load average ${load()} at the end`,
    "",
  ].join("\n");
  const at = text.indexOf(heading);
  if (at < 0) {
    text = (text.trimEnd() ? text.trimEnd() + "\n\n" : "") + heading + "\n\n" +
      `One KNE edit (${HP.igSteps} IG steps, top-p ${HP.topP}, ${HP.steps} update steps, all run, ` +
      "no KL term unless `--anchors`) " +
      `of a ${PROMPT_TOKENS}+${TARGET_TOKENS}-token prompt + target on random-weight models;\n` +
      "median of several edits after a warm-up, each model in its own process. Target: GPT-2 " +
      "small shape on WASM under 10 s.\n\n" + entry;
  } else {
    const next = text.indexOf("\n## ", at + heading.length);
    const end = next < 0 ? text.length : next + 1;
    const before = text.slice(0, end).trimEnd();
    text = before + "\n\n" + entry + (next < 0 ? "" : "\n" + text.slice(end));
  }
  Deno.writeTextFileSync(file, text.endsWith("\n") ? text : text + "\n");
  // Tables and long notes as `deno fmt` lays them out, so that `deno task check` stays clean.
  new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", file.pathname], stderr: "null" })
    .outputSync();
}

if (args.has("child")) await runChild();
else await runParent();
