// The edit pipeline behind scripts/edit.ts and scripts/compare.ts: the per-mode edit loop
// (src/loop/edit-loop.ts: single, batch or sequential) into a run folder. Each record is appended
// as one JSON line to OUT.partial/records.jsonl (a sequence's retention checks to
// OUT.partial/retention.jsonl) so an interrupted run can --resume; the final outputs are written
// into OUT.partial and renamed to OUT at the end (atomic; an existing OUT is only replaced with
// force).
// A record counts as finished only once every file it promises is durable: its patch
// (patches/record-<i>.safetensors, written atomically with fsync) and its method's artefacts
// (artifacts/record-<i>.json, ./artifacts.ts) are written before its line is appended, and the line is flushed (fsync) before the record is reported. Reopening an earlier
// run's folder is ./resume.ts's job, the final outputs ./run-outputs.ts's.

import { exists } from "../io/files.ts";
import { writePatch } from "../io/patch.ts";
import { runEditLoop } from "../loop/edit-loop.ts";
import { writeRecordArtifacts } from "./artifacts.ts";
import { checkManifest, runManifest } from "./manifest.ts";
import { checkReplaceable, markOutput } from "./output-guard.ts";
import { finishRun } from "./run-outputs.ts";
import type { RecordResult, RunOptions, RunResult } from "./records.ts";
import { appendDurably, patchFile, reopenPartial, RETENTION, sequenceSoFar } from "./resume.ts";

/**
 * Edits `opts.targets` in `opts.mode` into `opts.out`: each record is appended durably to
 * OUT.partial/records.jsonl as it finishes, then metrics.json (and, for one request, a batch or a
 * sequence, the edited checkpoint and its patch) are written and OUT.partial is renamed to OUT.
 * Stopped by `opts.interrupted`, it leaves OUT.partial for --resume.
 */
export async function runEdits(opts: RunOptions): Promise<RunResult> {
  const partial = `${opts.out}.partial`;
  if ((await exists(opts.out)) && !opts.force) {
    throw new Error(`${opts.out} exists; choose another --out or pass --force to replace it`);
  }
  // Only an output folder of this tool is ever replaced (src/pipeline/output-guard.ts).
  await checkReplaceable(opts.out);
  const resumeFile = `${partial}/records.jsonl`;
  const done = new Map<number, RecordResult>();
  const resuming = opts.resume && await exists(partial);
  const manifest = await runManifest(opts);
  if (await exists(partial)) {
    for (const [i, r] of await reopenPartial(partial, opts, manifest)) done.set(i, r);
  }
  if (resuming) opts.onResumed?.(done.size);
  // A sequence goes on from the model its saved edits left (./resume.ts).
  const replay = opts.mode === "sequential" && done.size > 0
    ? await sequenceSoFar(partial, opts.targets, done)
    : undefined;
  // A batch is one edit, saved as the run's patch: it keeps no patch or artefacts per record.
  const perRecord = opts.mode === "batch" ? [""] : ["/patches", "/artifacts"];
  for (const sub of perRecord) await Deno.mkdir(`${partial}${sub}`, { recursive: true });
  await markOutput(partial, "edit");
  if (!resuming) await checkManifest(partial, manifest, false);
  const records: RecordResult[] = [...done.values()];
  const loop = await runEditLoop({
    model: opts.model,
    tokenizer: opts.tokenizer,
    method: opts.method,
    hparams: opts.hparams,
    targets: opts.targets,
    mode: opts.mode,
    anchorPool: opts.anchors,
    fluency: opts.fluency ? { seed: opts.seed } : false,
    completionTokens: 8,
    retentionChecks: true,
    attributionChunks: opts.attributionChunks,
    replay,
  }, {
    finished: (index) => done.has(index),
    interrupted: opts.interrupted,
    progress: (p) => opts.onProgress?.(p.phase, p.step, p.of, p.loss),
    retention: (c) => appendDurably(`${partial}/${RETENTION}`, JSON.stringify(c) + "\n"),
    record: async ({ target: t, before, metrics, after, result, seconds }) => {
      // The patch first: a record's line promises its patch is already on disk. A batch's one
      // edit belongs to all its records: only the final patch holds it.
      if (opts.mode !== "batch" && result.changes.length > 0) {
        await writePatch(patchFile(partial, t.request.index), result.changes, {
          method: opts.method.name,
          record: String(t.request.index),
        }, opts.storedDtypes);
      }
      if (opts.mode !== "batch") {
        await writeRecordArtifacts(partial, t.request.index, result.artifacts);
      }
      const rec: RecordResult = {
        index: t.request.index,
        subject: t.request.subject,
        prompt: t.request.prompt,
        targetNew: t.request.targetNew,
        before,
        after: { ...metrics, completion: after.completion },
        rolledBack: result.rolledBack,
        seconds,
        paramsChanged: result.changes.reduce((a, c) => a + c.indices.length, 0),
        timings: result.timings,
      };
      records.push(rec);
      await appendDurably(resumeFile, JSON.stringify(rec) + "\n");
      opts.onRecord?.(rec);
    },
  });
  return await finishRun(opts, partial, {
    records,
    interrupted: loop.interrupted,
    allChanges: loop.applied,
    lastResult: loop.last,
    retention: loop.retention,
    endEditSucc: loop.endEditSucc,
  });
}
