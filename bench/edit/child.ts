// The child process of one shape, backend and dtype: builds the model with random weights,
// runs the warm-up and timed edits (weights restored between them), measures time per phase
// and peak memory, and prints one EditResult (or an error) as its last line.

import { type Backend, type DType, DTYPE_BYTES } from "../../engine/backend.ts";
import { createWasmBackend, type WasmBackend } from "../../engine/wasm/backend.ts";
import { createWebGpuBackend } from "../../engine/webgpu/backend.ts";
import { teacherForced } from "../../src/edit/request.ts";
import { writeChanges } from "../../src/edit/snapshot.ts";
import { selectEnsemble } from "../../src/kne/ensemble.ts";
import { kneEdit } from "../../src/kne/kne.ts";
import { buildModel, disposeModel, initWeights } from "../../src/model/build.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { backendLimits } from "../../src/plan/fit.ts";
import { median } from "../../src/eval/aggregate.ts";
import { peakRssBytes, resetPeakRss } from "../peak-rss.ts";
import { profiledEdit } from "./profile.ts";
import { digest, type EditResult, planSummary } from "./result.ts";
import {
  ANCHORS,
  args,
  EDITS,
  editTokens,
  HP,
  JSON_OUT,
  load,
  plan,
  PROFILE,
  PROMPT_TOKENS,
  TARGET_TOKENS,
  THREADS,
  WARMUP,
} from "./settings.ts";
import { describe, SHAPES } from "../shapes.ts";

/** What the timed edits measured (the warm-up's digest kept too). */
interface Measured {
  times: number[];
  phases: { attribution: number[]; selection: number[]; update: number[]; other: number[] };
  peakAttr: number;
  peakUpdate: number;
  peakRss: number;
  rssReset: boolean;
  digests: Set<string>;
  last: Awaited<ReturnType<typeof kneEdit>>;
}

/**
 * --warmup then --edits KNE edits of `rows`, the weights restored from each edit's changes: the
 * time of each and of its phases, the WASM peaks in attribution and after it, the peak RSS.
 */
async function timedEdits(
  model: CausalLM,
  rows: ReturnType<typeof teacherForced>[],
  anchors: number[][],
  attributionChunks: number,
  progress: (s: string) => void,
): Promise<Measured> {
  const be = model.backend;
  const wasm = be.name === "wasm" ? be as WasmBackend : null;
  const m: Omit<Measured, "last"> & { last: Measured["last"] | null } = {
    times: [],
    phases: { attribution: [], selection: [], update: [], other: [] },
    peakAttr: 0,
    peakUpdate: 0,
    peakRss: 0,
    rssReset: true,
    digests: new Set(),
    last: null,
  };
  for (let e = -WARMUP; e < EDITS; e++) {
    wasm?.resetPeak();
    m.rssReset = resetPeakRss() && m.rssReset;
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
    }, attributionChunks);
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
    m.digests.add(d);
    progress(
      `${e < 0 ? "warm-up" : `edit ${e + 1}/${EDITS}`}: ${(ms / 1000).toFixed(2)} s ` +
        `(attribution ${r.attribution.seconds.toFixed(2)} s, update ${
          r.update.seconds.toFixed(2)
        } s), loss ${r.update.losses[0].toFixed(3)} -> ${r.update.losses.at(-1)!.toFixed(3)}, ` +
        `digest ${d}; weights restored in ${restoreMs.toFixed(0)} ms; load ${load()}`,
    );
    if (e < 0) continue;
    m.times.push(ms);
    m.phases.attribution.push(r.attribution.seconds * 1000);
    m.phases.update.push(r.update.seconds * 1000);
    m.phases.selection.push(selMs);
    m.phases.other.push(ms - r.attribution.seconds * 1000 - r.update.seconds * 1000 - selMs);
    if (wasm) {
      m.peakAttr = Math.max(m.peakAttr, attrPeak);
      m.peakUpdate = Math.max(m.peakUpdate, wasm.peakBytes());
    }
    m.peakRss = Math.max(m.peakRss, rss);
    m.last = r;
  }
  return { ...m, last: m.last! };
}

export async function runChild(): Promise<void> {
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
    const m = await timedEdits(model, rows, anchors, planned.options.attributionChunks, progress);
    const r = m.last;
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
      ms: median(m.times),
      msAll: m.times,
      phases: {
        attribution: median(m.phases.attribution),
        selection: median(m.phases.selection),
        update: median(m.phases.update),
        other: median(m.phases.other),
      },
      buildSeconds,
      peakDeviceBytes: wasm ? Math.max(m.peakAttr, m.peakUpdate) : null,
      peakPhaseBytes: wasm ? { attribution: m.peakAttr, update: m.peakUpdate } : null,
      memoryBytes: wasm ? wasm.memory.buffer.byteLength : null,
      peakRssBytes: m.peakRss,
      rssReset: m.rssReset,
      plan: planSummary(planned),
      ensembleUnits: r.ensemble.selectedUnits,
      totalUnits: r.ensemble.totalUnits,
      changedEntries: r.changes.reduce((a, c) => a + c.indices.length, 0),
      ensembleParams: r.ensembleParams,
      targetProbBefore: r.attribution.targetProb,
      lossFirst: r.update.losses[0],
      lossLast: r.update.losses.at(-1)!,
      digest: [...m.digests].join(" "),
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
