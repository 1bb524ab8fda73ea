// The edit pipeline behind scripts/edit.ts and scripts/compare.ts: for each request (single
// mode: each from the unedited model; sequential: one after another; batch: all at once) record
// locality baselines, apply the method, score the metrics, and append one JSON line per record
// to OUT.partial/records.jsonl so an interrupted run can --resume. Final outputs are written
// into OUT.partial and renamed to OUT at the end (atomic; an existing OUT is only replaced with
// force).
// A record counts as finished only once every file it promises is durable: its patch
// (patches/record-<i>.safetensors, written atomically with fsync) is written before its line is
// appended, and the line is flushed (fsync) before the record is reported. A resume keeps a record only when its line is whole and its patch reads back; it
// removes everything else a crashed run left (final outputs, temporary files) and rebuilds the
// final outputs, redoing the last record when every record was already finished, so that
// ensemble.json, attribution.svg, model/ and patch.safetensors always come from this run.

import { median, summarize, type Summary } from "../eval/aggregate.ts";
import { evaluateRecord, localityBaseline, type RecordMetrics } from "../eval/record.ts";
import { tokenAccuracy } from "../eval/accuracy.ts";
import { readPatch, writePatch } from "../io/patch.ts";
import { exists, replaceDir } from "../io/files.ts";
import type { EditRequest } from "../io/requests.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";
import { saveWeights } from "./load.ts";
import { generate } from "../model/generate.ts";
import { buildAnchors } from "./anchors.ts";
import { evalModel } from "../edit/eval-model.ts";
import { checkManifest, fileSha256, sha256, weightsIdentity } from "./manifest.ts";
import type { EditMethod, EditTarget, Hparams, MethodResult } from "../edit/method.ts";
import { checkReplaceable, markOutput, OUTPUT_MARKER, removeOutput } from "./output.ts";
import { writeChanges } from "../edit/snapshot.ts";
import type { TensorChange } from "../io/patch.ts";

export type EditMode = "single" | "batch" | "sequential";

export interface RunOptions {
  model: CausalLM;
  modelDir: string;
  tokenizer: Tokenizer;
  method: EditMethod;
  hparams: Hparams;
  targets: EditTarget[];
  mode: EditMode;
  out: string;
  force: boolean;
  resume: boolean;
  seed: number;
  fluency: boolean;
  /**
   * The anchor pool (requests, the dev split by default) from which each edit's locality anchors
   * are built (src/pipeline/anchors.ts); never the evaluated probes.
   */
  anchors: EditRequest[];
  /** Called with each finished record (for printing). */
  onRecord?: (r: RecordResult) => void;
  onProgress?: (phase: string, step: number, of: number, loss?: number) => void;
  /** Returns true when the user asked to stop (SIGINT). */
  interrupted?: () => boolean;
  /** Layer groups for attribution, from the memory plan (EditContext.attributionChunks). */
  attributionChunks?: number;
}

export interface RecordResult {
  index: number;
  subject: string;
  prompt: string;
  targetNew: string;
  before: { editSucc: number; completion: string };
  after: RecordMetrics & { completion: string };
  rolledBack: boolean;
  seconds: number;
  paramsChanged: number;
  timings: Record<string, number>;
}

export interface RunResult {
  records: RecordResult[];
  summary: Summary;
  /** Final edit succ of every request after the whole sequence (sequential mode). */
  sequentialEditSucc?: number;
  paramsTotal: number;
  interrupted: boolean;
  out: string;
}

/** The prompt and its greedy continuation of up to n tokens (KV-cached), as text. */
export async function greedy(
  model: CausalLM,
  tok: Tokenizer,
  prompt: number[],
  n: number,
): Promise<string> {
  const maxNewTokens = Math.max(0, Math.min(n, model.config.contextLength - prompt.length));
  const eosId = model.config.eosTokenId ?? undefined;
  return tok.decode((await generate(model, prompt, { maxNewTokens, eosId })).ids);
}

function countParams(model: CausalLM): number {
  let n = 0;
  for (const p of model.params.values()) n += p.value.size;
  return n;
}

/** Merges changes of successive edits of the same tensors (sequential/batch outputs). */
function mergeChanges(all: TensorChange[][]): TensorChange[] {
  const byName = new Map<string, Map<number, { before: number; after: number }>>();
  const shapes = new Map<string, readonly number[]>();
  for (const changes of all) {
    for (const c of changes) {
      shapes.set(c.name, c.shape);
      let m = byName.get(c.name);
      if (!m) byName.set(c.name, m = new Map());
      c.indices.forEach((idx, k) => {
        const prev = m!.get(idx);
        m!.set(idx, { before: prev ? prev.before : c.before[k], after: c.after[k] });
      });
    }
  }
  return [...byName].map(([name, m]) => {
    const idx = [...m.keys()].sort((a, b) => a - b);
    return {
      name,
      shape: shapes.get(name)!,
      indices: Uint32Array.from(idx),
      before: Float32Array.from(idx, (i) => m.get(i)!.before),
      after: Float32Array.from(idx, (i) => m.get(i)!.after),
    };
  });
}

async function evaluate(
  opts: RunOptions,
  request: EditRequest,
  baseline: Awaited<ReturnType<typeof localityBaseline>>,
  target: EditTarget,
): Promise<RecordMetrics & { completion: string }> {
  const em = evalModel(opts.model, opts.tokenizer);
  const m = await evaluateRecord(request, em, {
    baseline,
    fluency: opts.fluency ? { seed: opts.seed + request.index } : false,
  });
  return { ...m, completion: await greedy(opts.model, opts.tokenizer, target.promptIds, 8) };
}

export async function runEdits(opts: RunOptions): Promise<RunResult> {
  const partial = `${opts.out}.partial`;
  if ((await exists(opts.out)) && !opts.force) {
    throw new Error(`${opts.out} exists; choose another --out or pass --force to replace it`);
  }
  // Only an output folder of this tool is ever replaced (src/pipeline/output.ts).
  await checkReplaceable(opts.out);
  const resumeFile = `${partial}/records.jsonl`;
  const done = new Map<number, RecordResult>();
  const resuming = opts.resume && await exists(partial);
  const manifest = {
    method: opts.method.name,
    mode: opts.mode,
    model: await Deno.realPath(opts.modelDir).catch(() => opts.modelDir),
    hparams: opts.hparams,
    fluency: opts.fluency,
    seed: opts.seed,
    requests: await sha256(JSON.stringify(opts.targets.map((t) => t.request))),
    anchors: await sha256(JSON.stringify(opts.anchors)),
    count: opts.targets.length,
    weights: await weightsIdentity(`${opts.modelDir}/model.safetensors`),
    config: (await fileSha256(`${opts.modelDir}/config.json`)).sha256,
    tokenizer: await exists(`${opts.modelDir}/tokenizer.json`)
      ? (await fileSha256(`${opts.modelDir}/tokenizer.json`)).sha256
      : null,
  };
  if (await exists(partial)) {
    if (opts.resume) {
      // Only a run started with the same settings may continue (GuardError otherwise).
      await checkManifest(partial, manifest, true);
      const text = await Deno.readTextFile(resumeFile).catch(() => "");
      const kept: string[] = [];
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        let r: RecordResult;
        try {
          r = JSON.parse(line) as RecordResult;
        } catch {
          continue; // A line cut by the interruption: that record is redone.
        }
        // A record whose patch is missing or unreadable is redone as well.
        if (
          r.paramsChanged > 0 && !await readPatch(patchFile(partial, r.index)).catch(() => null)
        ) {
          continue;
        }
        done.set(r.index, r);
        kept.push(JSON.stringify(r));
      }
      // The final outputs come from this run: the last record is redone when all are finished.
      if (opts.targets.every((t) => done.has(t.request.index)) && opts.targets.length > 0) {
        const last = opts.targets.at(-1)!.request.index;
        done.delete(last);
        kept.splice(kept.findIndex((l) => (JSON.parse(l) as RecordResult).index === last), 1);
      }
      await clearLeftovers(partial, new Set([...done.keys()].map((i) => patchName(i))));
      // Rewrite without the cut line, so the next appended record starts on a line of its own.
      await Deno.writeTextFile(`${resumeFile}.tmp`, kept.map((l) => l + "\n").join(""));
      await Deno.rename(`${resumeFile}.tmp`, resumeFile);
    } else if (!opts.force) {
      throw new Error(
        `${partial} holds partial results of an earlier run; pass --resume to continue it ` +
          `or --force to start over`,
      );
    } else {
      await removeOutput(partial);
    }
  }
  if (opts.resume && opts.mode !== "single" && done.size > 0) {
    throw new Error(`--resume continues single-mode runs only (this run is ${opts.mode})`);
  }
  await Deno.mkdir(`${partial}/patches`, { recursive: true });
  await markOutput(partial, "edit");
  if (!resuming) await checkManifest(partial, manifest, false);
  const em = evalModel(opts.model, opts.tokenizer);
  const records: RecordResult[] = [...done.values()];
  const allChanges: TensorChange[][] = [];
  const editedSoFar: number[][] = [];
  let lastResult: MethodResult | null = null;
  let interrupted = false;
  const progress = (p: { phase: string; step: number; of: number; loss?: number }) =>
    opts.onProgress?.(p.phase, p.step, p.of, p.loss);
  const ctx = {
    model: opts.model,
    tokenizer: opts.tokenizer,
    localityPrompts: [] as number[][],
    onProgress: progress,
    attributionChunks: opts.attributionChunks,
  };
  const finishRecord = async (
    t: EditTarget,
    baseline: Awaited<ReturnType<typeof localityBaseline>>,
    before: RecordResult["before"],
    result: MethodResult,
    seconds: number,
  ) => {
    const after = await evaluate(opts, t.request, baseline, t);
    const rec: RecordResult = {
      index: t.request.index,
      subject: t.request.subject,
      prompt: t.request.prompt,
      targetNew: t.request.targetNew,
      before,
      after,
      rolledBack: result.rolledBack,
      seconds,
      paramsChanged: result.changes.reduce((a, c) => a + c.indices.length, 0),
      timings: result.timings,
    };
    records.push(rec);
    await appendDurably(resumeFile, JSON.stringify(rec) + "\n");
    opts.onRecord?.(rec);
  };

  const beforeOf = async (t: EditTarget) => ({
    editSucc: await tokenAccuracy(em, t.request.prompt, t.request.targetNew),
    completion: await greedy(opts.model, opts.tokenizer, t.promptIds, 8),
  });

  // Anchors are built (a forward of the unedited model over the candidates) only for a method
  // that reads them.
  const usesAnchors = opts.method.usesAnchors(opts.hparams);
  const anchorsOf = async (t: EditTarget) =>
    usesAnchors
      ? await buildAnchors(opts.model, opts.tokenizer, opts.anchors, t.request, t.promptIds)
      : [];

  if (opts.mode === "batch") {
    const baselines = [];
    const befores = [];
    for (const t of opts.targets) {
      baselines.push(await localityBaseline(em, t.request));
      befores.push(await beforeOf(t));
    }
    ctx.localityPrompts = [];
    for (const t of opts.targets) {
      ctx.localityPrompts.push(...await anchorsOf(t));
    }
    const t0 = performance.now();
    const result = await opts.method.apply(ctx, opts.targets, opts.hparams);
    const secs = (performance.now() - t0) / 1000;
    lastResult = result;
    allChanges.push(result.changes);
    for (let i = 0; i < opts.targets.length; i++) {
      await finishRecord(
        opts.targets[i],
        baselines[i],
        befores[i],
        result,
        secs / opts.targets.length,
      );
    }
  } else {
    // Sequential: Locality compares with the original model, as EasyEdit measures it, so every
    // request's unedited locality answers are recorded before the first edit (not after the
    // earlier edits of the sequence).
    const sequentialBaselines = new Map<number, Awaited<ReturnType<typeof localityBaseline>>>();
    if (opts.mode === "sequential") {
      for (const t of opts.targets) {
        sequentialBaselines.set(t.request.index, await localityBaseline(em, t.request));
      }
    }
    for (const t of opts.targets) {
      if (done.has(t.request.index)) continue;
      if (opts.interrupted?.()) {
        interrupted = true;
        break;
      }
      const baseline = sequentialBaselines.get(t.request.index) ??
        await localityBaseline(em, t.request);
      const before = await beforeOf(t);
      // Sequential: earlier edits (prompt + target) anchor the KL term, so they are kept.
      ctx.localityPrompts = [
        ...await anchorsOf(t),
        ...(opts.mode === "sequential" && usesAnchors ? editedSoFar : []),
      ];
      const t0 = performance.now();
      const result = await opts.method.apply(ctx, [t], opts.hparams);
      const secs = (performance.now() - t0) / 1000;
      lastResult = result;
      // The patch first: a record's line promises its patch is already on disk.
      if (result.changes.length > 0) {
        await writePatch(patchFile(partial, t.request.index), result.changes, {
          method: opts.method.name,
          record: String(t.request.index),
        });
      }
      await finishRecord(t, baseline, before, result, secs);
      if (opts.mode === "single") writeChanges(opts.model, result.changes, "before");
      else {
        allChanges.push(result.changes);
        // One anchor per target token: each prefix's last position predicts that token.
        for (let k = 0; k < t.targetIds.length; k++) {
          editedSoFar.push([...t.promptIds, ...t.targetIds.slice(0, k)]);
        }
      }
    }
  }

  records.sort((a, b) => a.index - b.index);
  let sequentialEditSucc: number | undefined;
  if (opts.mode === "sequential" && !interrupted) {
    let s = 0;
    for (const t of opts.targets) {
      s += await tokenAccuracy(em, t.request.prompt, t.request.targetNew);
    }
    sequentialEditSucc = (100 * s) / opts.targets.length;
  }
  const summary = summarize(records.map((r) => r.after));
  const paramsTotal = countParams(opts.model);
  const meanOf = (f: (r: RecordResult) => number) =>
    records.length ? records.reduce((a, r) => a + f(r), 0) / records.length : 0;
  const metrics = {
    method: opts.method.name,
    mode: opts.mode,
    model: opts.modelDir,
    hparams: opts.hparams,
    records: records.length,
    mean: summary,
    sequentialEditSucc,
    secondsPerEdit: {
      mean: meanOf((r) => r.seconds),
      median: median(records.map((r) => r.seconds)),
    },
    paramsChanged: {
      mean: meanOf((r) => r.paramsChanged),
      fractionMean: meanOf((r) => r.paramsChanged) / paramsTotal,
    },
    paramsTotal,
    rolledBack: records.filter((r) => r.rolledBack).map((r) => r.index),
    interrupted,
    perRecord: records,
  };
  await Deno.writeTextFile(`${partial}/metrics.json`, JSON.stringify(metrics, null, 2));
  if (interrupted) {
    return { records, summary, sequentialEditSucc, paramsTotal, interrupted, out: partial };
  }
  if (lastResult) {
    for (const [name, value] of Object.entries(lastResult.artifacts)) {
      await Deno.writeTextFile(`${partial}/${name}.json`, JSON.stringify(value, null, 2));
    }
    for (const [name, svg] of Object.entries(lastResult.pictures)) {
      await Deno.writeTextFile(`${partial}/${name}`, svg);
    }
  }
  // The edited checkpoint: for one request or a batch/sequence, the model as edited.
  const finalChanges = opts.mode === "single"
    ? (opts.targets.length === 1 && lastResult ? lastResult.changes : null)
    : mergeChanges(allChanges);
  if (finalChanges) {
    if (opts.mode === "single") {
      // Re-apply the single edit (it was reverted after scoring).
      writeChanges(opts.model, finalChanges, "after");
    }
    await Deno.mkdir(`${partial}/model`, { recursive: true });
    for (const f of ["config.json", "tokenizer.json"]) {
      if (await exists(`${opts.modelDir}/${f}`)) {
        await Deno.copyFile(`${opts.modelDir}/${f}`, `${partial}/model/${f}`);
      }
    }
    await saveWeights(opts.model, `${partial}/model`);
    await writePatch(`${partial}/patch.safetensors`, finalChanges, { method: opts.method.name });
    if (opts.mode === "single") writeChanges(opts.model, finalChanges, "before");
  }
  await checkReplaceable(opts.out);
  await checkReplaceable(`${opts.out}.old`);
  await replaceDir(partial, opts.out);
  return { records, summary, sequentialEditSucc, paramsTotal, interrupted, out: opts.out };
}

const patchName = (index: number) => `record-${index}.safetensors`;
const patchFile = (partial: string, index: number) => `${partial}/patches/${patchName(index)}`;

/** What a resume keeps of a crashed run's folder; everything else is removed and rebuilt. */
const KEPT = new Set(["run.json", "records.jsonl", "patches", OUTPUT_MARKER]);

/**
 * Removes what a crashed run left in `partial` besides its manifest, records and the patches of
 * the records kept (`patches`): final outputs, half-written files, temporary files.
 */
async function clearLeftovers(partial: string, patches: Set<string>): Promise<void> {
  for await (const e of Deno.readDir(partial)) {
    if (KEPT.has(e.name) || e.name.endsWith(".lock")) continue;
    await Deno.remove(`${partial}/${e.name}`, { recursive: true });
  }
  if (!await exists(`${partial}/patches`)) return;
  for await (const e of Deno.readDir(`${partial}/patches`)) {
    if (!patches.has(e.name)) {
      await Deno.remove(`${partial}/patches/${e.name}`, { recursive: true });
    }
  }
}

/** Appends `text` to `file` and flushes it to the disk before returning (a record's promise). */
async function appendDurably(file: string, text: string): Promise<void> {
  const f = await Deno.open(file, { append: true, create: true });
  try {
    const bytes = new TextEncoder().encode(text);
    for (let at = 0; at < bytes.length;) at += await f.write(bytes.subarray(at));
    await f.syncData();
  } finally {
    f.close();
  }
}
