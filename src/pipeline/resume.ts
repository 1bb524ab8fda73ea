// Reopening OUT.partial of an earlier run. With --resume, a run started with the same settings
// (run.json) continues: a record counts as finished only when its line is whole and its patch and
// artefacts read back; everything else a crashed run left (final outputs, temporary files) is removed,
// and the last record is redone when every record was already finished, so that the final
// outputs always come from this run. A sequence keeps only its unbroken run of first records
// (each edit started from the model the ones before it left); its edits are replayed from their
// patches and its retention checks read back (sequenceSoFar). A batch keeps none: its one edit has
// no patch until the run finishes, so it is redone. Without --resume the folder is replaced only
// with --force.
// Also the record files themselves: where each record's patch lives, and the durable append of
// a record's line.

import { FileSystemError } from "../io/errors.ts";
import { exists, fsReason, writeTextAtomically } from "../io/files.ts";
import { readPatch, type TensorChange } from "../io/patch.ts";
import type { RetentionCheck } from "../eval/retention.ts";
import type { SequenceSoFar } from "../loop/edit-loop.ts";
import { artifactsName, readRecordArtifacts } from "./artifacts.ts";
import { checkManifest, type RunManifest } from "./manifest.ts";
import { OUTPUT_MARKER, removeOutput } from "./output-guard.ts";
import type { RecordResult, RunOptions } from "./records.ts";

/**
 * The finished records of `partial` to keep (by request index), after checking it may be
 * continued; throws when it may not (GuardError for other settings, Error without --resume or
 * --force). An empty map when the folder is replaced.
 */
export async function reopenPartial(
  partial: string,
  opts: Pick<RunOptions, "resume" | "force" | "targets" | "mode">,
  manifest: RunManifest,
): Promise<Map<number, RecordResult>> {
  const done = new Map<number, RecordResult>();
  const resumeFile = `${partial}/records.jsonl`;
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
      // A record whose patch or artefacts are missing or unreadable is redone as well (a batch
      // keeps neither: it is redone below).
      if (
        r.paramsChanged > 0 && !await readPatch(patchFile(partial, r.index)).catch(() => null)
      ) {
        continue;
      }
      if (opts.mode !== "batch" && await readRecordArtifacts(partial, r.index) === null) continue;
      done.set(r.index, r);
      kept.push(JSON.stringify(r));
    }
    if (opts.mode === "batch") {
      // Its one edit is redone for all its records (even those whose edit changed nothing).
      done.clear();
      kept.length = 0;
    } else if (opts.mode === "sequential") {
      // Only the first records, each made on the model the ones before it left, are kept.
      const prefix = opts.targets.findIndex((t) => !done.has(t.request.index));
      for (const t of opts.targets.slice(prefix < 0 ? opts.targets.length : prefix)) {
        done.delete(t.request.index);
      }
      kept.splice(0, kept.length, ...kept.filter((l) => done.has(JSON.parse(l).index)));
    }
    // The final outputs come from this run: the last record is redone when all are finished.
    if (opts.targets.every((t) => done.has(t.request.index)) && opts.targets.length > 0) {
      const last = opts.targets.at(-1)!.request.index;
      done.delete(last);
      kept.splice(kept.findIndex((l) => (JSON.parse(l) as RecordResult).index === last), 1);
    }
    await clearLeftovers(partial, [...done.keys()]);
    // Rewrite without the cut line, so the next appended record starts on a line of its own.
    await writeTextAtomically(resumeFile, kept.map((l) => l + "\n").join(""));
  } else if (!opts.force) {
    throw new Error(
      `${partial} holds partial results of an earlier run; pass --resume to continue it ` +
        `or --force to start over`,
    );
  } else {
    await removeOutput(partial);
  }
  return done;
}

/** A sequence's retention checks, one JSON line each, appended as they are measured. */
export const RETENTION = "retention.jsonl";

/**
 * A resumed sequence's earlier edits, read back: the changes of its first `done` records in the
 * targets' order (from their patches; none for a record that changed nothing) and the retention
 * checks saved after them (the file rewritten to hold only those).
 */
export async function sequenceSoFar(
  partial: string,
  targets: RunOptions["targets"],
  done: ReadonlyMap<number, RecordResult>,
): Promise<SequenceSoFar> {
  const changes: TensorChange[][] = [];
  for (const t of targets) {
    const r = done.get(t.request.index);
    if (!r) break;
    const entries = r.paramsChanged > 0 ? await readPatch(patchFile(partial, r.index)) : [];
    changes.push(entries.map((e) => ({ ...e, indices: Uint32Array.from(e.indices) })));
  }
  const file = `${partial}/${RETENTION}`;
  const text = await Deno.readTextFile(file).catch(() => "");
  const retention: RetentionCheck[] = [];
  for (const line of text.split("\n")) {
    let c: RetentionCheck;
    try {
      c = JSON.parse(line) as RetentionCheck;
    } catch {
      continue; // An empty line, or one cut by the interruption: that check is measured again.
    }
    if (c.made <= changes.length && c.made > (retention.at(-1)?.made ?? 0)) retention.push(c);
  }
  // Rewritten with the checks kept, so that the checks this run appends follow them.
  await writeTextAtomically(file, retention.map((c) => JSON.stringify(c) + "\n").join(""));
  return { changes, retention };
}

export const patchName = (index: number) => `record-${index}.safetensors`;
export const patchFile = (partial: string, index: number) =>
  `${partial}/patches/${patchName(index)}`;

/** What a resume keeps of a crashed run's folder; everything else is removed and rebuilt. */
const KEPT = new Set(["run.json", "records.jsonl", RETENTION, OUTPUT_MARKER]);

/** The per-record folders a resume keeps, with the file name of a record's entry in each. */
const PER_RECORD: readonly [string, (index: number) => string][] = [
  ["patches", patchName],
  ["artifacts", artifactsName],
];

/**
 * Removes what a crashed run left in `partial` besides its manifest, records and the patches and
 * artefacts of the records kept (`kept`, request indices): final outputs, half-written files,
 * temporary files.
 */
async function clearLeftovers(partial: string, kept: readonly number[]): Promise<void> {
  const folders = new Map(PER_RECORD);
  for await (const e of Deno.readDir(partial)) {
    if (KEPT.has(e.name) || folders.has(e.name) || e.name.endsWith(".lock")) continue;
    await Deno.remove(`${partial}/${e.name}`, { recursive: true });
  }
  for (const [folder, name] of PER_RECORD) {
    if (!await exists(`${partial}/${folder}`)) continue;
    const names = new Set(kept.map(name));
    for await (const e of Deno.readDir(`${partial}/${folder}`)) {
      if (!names.has(e.name)) {
        await Deno.remove(`${partial}/${folder}/${e.name}`, { recursive: true });
      }
    }
  }
}

/**
 * Appends `text` to `file` and flushes it to the disk before returning (a record's promise). A
 * failed write names the file (an OS error of write itself names none: a full disk read
 * "cannot use a file: no space left on the device").
 */
export async function appendDurably(file: string, text: string): Promise<void> {
  const f = await Deno.open(file, { append: true, create: true });
  try {
    const bytes = new TextEncoder().encode(text);
    for (let at = 0; at < bytes.length;) at += await f.write(bytes.subarray(at));
    await f.syncData();
  } catch (e) {
    throw new FileSystemError(file, "write", fsReason(e), { cause: e });
  } finally {
    f.close();
  }
}
