// The final outputs of an edit run, written into OUT.partial and renamed to OUT at the end: the
// summary (metrics.json), the method's artefacts of every record (./artifacts.ts) and pictures of
// the last edit, and for one request, a batch or a sequence the edited checkpoint (model/) and its
// sparse patch.

import { median, summarize } from "../eval/aggregate.ts";
import { bootstrapIntervals } from "../eval/bootstrap.ts";
import { type RetentionCheck, retentionCurve, type RetentionPoint } from "../eval/retention.ts";
import { barChartSvg } from "../report/bars.ts";
import type { MethodResult } from "../edit/method.ts";
import { writeChanges } from "../edit/snapshot.ts";
import { exists, replaceDir } from "../io/files.ts";
import { CARRIED_FILES } from "../io/model-files.ts";
import { mergeChanges, type TensorChange, writePatch } from "../io/patch.ts";
import type { CausalLM } from "../model/lm.ts";
import { runArtifacts } from "./artifacts.ts";
import { saveWeights } from "./load.ts";
import { checkReplaceable } from "./output-guard.ts";
import type { RecordResult, RunOptions, RunResult } from "./records.ts";

function countParams(model: CausalLM): number {
  let n = 0;
  for (const p of model.params.values()) n += p.value.size;
  return n;
}

/** What the edit loop leaves for the outputs. */
export interface RunState {
  records: RecordResult[];
  interrupted: boolean;
  /** Each edit's changes (batch and sequential: merged into the final patch). */
  allChanges: TensorChange[][];
  lastResult: MethodResult | null;
  /** Sequential mode: the Edit Succ. of the edits so far at each checkpoint. */
  retention: RetentionCheck[];
  /** Sequential mode, when every edit was made: each request's Edit Succ. after the last. */
  endEditSucc?: number[];
}

/** Writes the outputs into `partial` and renames it to OUT (not when interrupted). */
export async function finishRun(
  opts: RunOptions,
  partial: string,
  { records, interrupted, allChanges, lastResult, retention, endEditSucc }: RunState,
): Promise<RunResult> {
  records.sort((a, b) => a.index - b.index);
  // Sequential: the mean Edit Succ. (x100) of all edits after the last one.
  const sequentialEditSucc = endEditSucc
    ? (100 * endEditSucc.reduce((a, s) => a + s, 0)) / endEditSucc.length
    : undefined;
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
    // 95% percentile-bootstrap intervals over the records (src/eval/bootstrap.ts).
    ci95: bootstrapIntervals(records.map((r) => r.after)),
    sequentialEditSucc,
    // Sequential: Edit Succ. of an edit k edits after it was made (src/eval/retention.ts).
    retention: opts.mode === "sequential" ? retentionCurve(retention) : undefined,
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
  if (metrics.retention && metrics.retention.length > 0) {
    await Deno.writeTextFile(`${partial}/retention.svg`, retentionSvg(metrics.retention));
  }
  if (interrupted) {
    return { records, summary, sequentialEditSucc, paramsTotal, interrupted, out: partial };
  }
  if (lastResult) {
    const indices = opts.mode === "batch" ? null : records.map((r) => r.index);
    const artifacts = await runArtifacts(partial, lastResult.artifacts, indices);
    for (const [name, value] of Object.entries(artifacts)) {
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
    for (const f of CARRIED_FILES) {
      if (await exists(`${opts.modelDir}/${f}`)) {
        await Deno.copyFile(`${opts.modelDir}/${f}`, `${partial}/model/${f}`);
      }
    }
    // Each tensor in its dtype in the input checkpoint where its values are exact in it; the patch
    // records those dtypes, for revert to give the input checkpoint back in them.
    await saveWeights(opts.model, `${partial}/model`, {
      dtypes: opts.storedDtypes,
      changes: finalChanges,
    });
    const meta = { method: opts.method.name };
    await writePatch(`${partial}/patch.safetensors`, finalChanges, meta, opts.storedDtypes);
    if (opts.mode === "single") writeChanges(opts.model, finalChanges, "before");
  }
  await checkReplaceable(opts.out);
  await checkReplaceable(`${opts.out}.old`);
  await replaceDir(partial, opts.out);
  return { records, summary, sequentialEditSucc, paramsTotal, interrupted, out: opts.out };
}

/** The retention curve as bars: Edit Succ. held by the number of edits made after. */
function retentionSvg(curve: readonly RetentionPoint[]): string {
  return barChartSvg({
    title: "Sequential editing: edits still holding after k more edits",
    groups: curve.map((p) => `${p.lag}`),
    series: [{ name: "Edit Succ. (x100)", values: curve.map((p) => p.held) }],
    yMin: 0,
    yMax: 100,
    yLabel: "Edit Succ. of the k-th earlier edit",
  });
}
