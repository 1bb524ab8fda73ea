// KNE edit benchmark at real-model shapes: wall time and peak memory of one KNE edit
// (integrated-gradient attribution with 4 steps, global top-p 0.01 ensemble, 20 masked Adam
// update steps with earlyStopLoss 0 so that all 20 run) of a 16-token prompt + target (12 prompt
// tokens, 4 target tokens: 15 teacher-forced positions) on models with random weights
// (src/model/build.ts initWeights; nothing is downloaded):
//
//   gpt2-small   GPT-2 small shape: 12 layers, d 768, 12 heads, ff 3072, vocab 50257
//   gpt2-medium  GPT-2 medium shape: 24 layers, d 1024, 16 heads, ff 4096, vocab 50257
//   llama-1b     Llama-style 1B shape: 16 layers, d 2048, 32 heads, 8 kv heads, ff 8192,
//                vocab 32000, untied head. When the planner (src/plan/plan.ts) says an edit of
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
// This file is the parent (which shapes and backends run, each in a child, and the notes); the
// settings, shapes, child, profiler, result and report are bench/edit/'s.

import type { DType } from "../engine/backend.ts";
import { createWasmBackend } from "../engine/wasm/backend.ts";
import { requestAdapter } from "../engine/webgpu/backend.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { type BackendLimits, backendLimits, formatBytes, planProblems } from "../src/plan/fit.ts";
import { runChild } from "./edit/child.ts";
import { record, summary } from "./edit/report.ts";
import type { EditResult, TorchEdit } from "./edit/result.ts";
import {
  ANCHORS,
  args,
  CHECKPOINT,
  EDITS,
  editTokens,
  FORCE,
  HP,
  JSON_OUT,
  LLAMA_LAYERS,
  plan,
  PROFILE,
  THREADS,
  WARMUP,
} from "./edit/settings.ts";
import { describe, type Shape, SHAPES } from "./shapes.ts";
import { NO_TORCH_NOTE, runTorchPeer, torchPython } from "./peers/torch.ts";

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

/** The weight dtypes to run on `backend`: --dtypes, else f32 on WASM and f16 on WebGPU. */
function dtypesFor(backend: "wasm" | "webgpu"): DType[] {
  return (args.list("dtypes", ["f32", "f16"]) ?? [backend === "wasm" ? "f32" : "f16"]) as DType[];
}

/** The backends to run: WASM unless --no-wasm, WebGPU on a real adapter (or --webgpu-fallback). */
async function backendsToRun(notes: string[]): Promise<("wasm" | "webgpu")[]> {
  const backends: ("wasm" | "webgpu")[] = args.has("no-wasm") ? [] : ["wasm"];
  if (args.has("no-webgpu")) return backends;
  const adapter = await requestAdapter(true);
  if (!adapter) notes.push("webgpu: skipped (no adapter)");
  else if (adapter.info.isFallbackAdapter && !args.has("webgpu-fallback")) {
    notes.push(
      `webgpu: skipped (only a fallback adapter, ${
        adapter.info.description || adapter.info.vendor || "software"
      }: too slow for model-scale edits)`,
    );
  } else backends.push("webgpu");
  return backends;
}

/**
 * The config to run of `shape` on WASM: its own when the planner admits it; else with --force its
 * own anyway, or for a family the largest layer count that fits, or none. The note says why.
 */
function fitShape(
  shape: Shape,
  config: ModelConfig,
  dtype: DType,
  limits: BackendLimits,
): { config: ModelConfig | null; note?: string } {
  const p = plan(config, dtype, limits);
  const problems = planProblems(p, limits, "edit");
  if (problems.length === 0) return { config };
  let note = `${shape.label} (${describe(config)}, ${
    (p.params.total / 1e6).toFixed(0)
  }M parameters, weights ${formatBytes(p.bytes.weights)}) does not fit by the planner: ${
    problems.join("; ")
  } (attribution peak ${formatBytes(p.bytes.attributionPeak)}, update peak ${
    formatBytes(p.bytes.updatePeak)
  })`;
  if (FORCE) return { config, note: note + "; run anyway (--force)" };
  if (!shape.family) return { config: null, note };
  for (let l = config.nLayers - 1; l >= 1; l--) {
    const c = shape.family(l);
    const p2 = plan(c, dtype, limits);
    if (planProblems(p2, limits, "edit").length > 0) continue;
    note += `; running the largest layer count of the same widths that the planner ` +
      `admits instead: ${describe(c)} (${
        (p2.params.total / 1e6).toFixed(0)
      }M parameters, planner device peak ${formatBytes(p2.bytes.devicePeak)})`;
    return { config: c, note };
  }
  return { config: null, note };
}

/** Runs one shape in its own child process: its EditResult, or why it failed. */
async function runShape(
  shape: Shape,
  config: ModelConfig,
  backend: "wasm" | "webgpu",
  dtype: DType,
): Promise<EditResult | { failed: string }> {
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
    return {
      failed: `${shape.label} (${describe(config)}) failed: ${
        parsed?.error ?? `exit code ${out.code}`
      }`,
    };
  }
  const r = parsed as EditResult;
  if (config !== shape.config) {
    r.label = `${shape.label}, reduced to ${config.nLayers} of ${shape.config.nLayers} layers`;
  }
  return r;
}

async function runParent(): Promise<void> {
  const only = args.list("models", SHAPES.map((s) => s.key));
  const shapes = args.has("quick")
    ? SHAPES.slice(0, 1)
    : SHAPES.filter((s) => !only || only.includes(s.key));
  const notes: string[] = [];
  const backends = await backendsToRun(notes);
  const py = args.has("no-torch") ? null : await torchPython();
  // The WASM limits without a model: a one-thread backend holds only its packing space.
  const probe = await createWasmBackend({ threads: 1 });
  const wasmLimits: BackendLimits = backendLimits(probe);
  await probe.dispose();

  const results: EditResult[] = [];
  const skips: string[] = [];
  for (const backend of backends) {
    for (const dtype of dtypesFor(backend)) {
      const skip = (note: string) => skips.push(`${backend} (${dtype} matrices): ${note}`);
      for (const shape of shapes) {
        let config: ModelConfig | null = shape.config;
        if (shape.family && LLAMA_LAYERS !== undefined) config = shape.family(LLAMA_LAYERS);
        if (backend === "wasm") {
          const fit = fitShape(shape, config, dtype, wasmLimits);
          if (fit.note) skip(fit.note);
          config = fit.config;
        }
        if (!config) continue;
        const r = await runShape(shape, config, backend, dtype);
        if ("failed" in r) {
          skip(r.failed);
          continue;
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
  notes.push(...skips);
  notes.push("WebGPU on a real GPU (H100): not measured (no GPU lent)");
  for (const n of notes) {
    if (JSON_OUT) console.log(JSON.stringify({ note: n }));
    else console.log(`- ${n}`);
  }

  if (!args.has("no-record")) record(results, notes);
}

if (args.has("child")) await runChild();
else await runParent();
