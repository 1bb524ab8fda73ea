// The edit pipeline behind scripts/edit.ts and scripts/compare.ts: for each request (single
// mode: each from the unedited model; sequential: one after another; batch: all at once) record
// locality baselines, apply the method, score the metrics, and append one JSON line per record
// to OUT.partial/records.jsonl so an interrupted run can --resume. Final outputs are written
// into OUT.partial and renamed to OUT at the end (atomic; an existing OUT is only replaced with
// force).
// A record counts as finished only once every file it promises is durable: its patch
// (patches/record-<i>.safetensors, written atomically with fsync) is written before its line is
// appended, and the line is flushed (fsync) before the record is reported. Reopening an earlier
// run's folder is ./resume.ts's job, the final outputs ./outputs.ts's.

import { evaluateRecord, localityBaseline, type RecordMetrics } from "../eval/record.ts";
import { tokenAccuracy } from "../eval/accuracy.ts";
import { isRetentionCheck, type RetentionCheck } from "../eval/retention.ts";
import { writePatch } from "../io/patch.ts";
import { exists } from "../io/files.ts";
import type { EditRequest } from "../io/requests.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";
import { generate } from "../model/generate.ts";
import { buildAnchors, editAnchors } from "../edit/anchors.ts";
import { evalModel } from "../edit/eval-model.ts";
import { checkManifest, fileSha256, sha256, weightsIdentity } from "./manifest.ts";
import { finishRun } from "./outputs.ts";
import type { RecordResult, RunOptions, RunResult } from "./records.ts";
import { appendDurably, patchFile, reopenPartial } from "./resume.ts";
import type { EditTarget, MethodResult } from "../edit/method.ts";
import { checkReplaceable, markOutput } from "./output.ts";
import { writeChanges } from "../edit/snapshot.ts";
import type { TensorChange } from "../io/patch.ts";

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
    for (const [i, r] of await reopenPartial(partial, opts, manifest)) done.set(i, r);
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
  const retention: RetentionCheck[] = [];
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
    // Sequential: every `every`-th edit, the Edit Succ. of every edit so far (retention).
    const every = Math.max(1, Math.ceil(opts.targets.length / 20));
    let made = 0;
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
        editedSoFar.push(...editAnchors(t));
        if (isRetentionCheck(++made, opts.targets.length, every)) {
          const editSucc = [];
          for (const e of opts.targets.slice(0, made)) {
            editSucc.push(await tokenAccuracy(em, e.request.prompt, e.request.targetNew));
          }
          retention.push({ made, editSucc });
        }
      }
    }
  }

  return await finishRun(opts, partial, {
    em,
    records,
    interrupted,
    allChanges,
    lastResult,
    retention,
  });
}
