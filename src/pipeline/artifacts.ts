// A method's artefacts (KNE's ensemble, ROME's and MEMIT's edit records...) in a run folder. In
// single and sequential mode each record's are kept as OUT.partial/artifacts/record-<i>.json,
// written durably before its line, as its patch is (./run.ts), so that a resumed run still has
// the records an earlier process edited; the run's OUT/<name>.json then describes every record.
// One edit (one request, or a batch) writes its artefacts as they are.

import { writeTextFilesTogether } from "../io/files.ts";
import type { MethodResult } from "../edit/method.ts";

type Artifacts = MethodResult["artifacts"];

export const artifactsName = (index: number) => `record-${index}.json`;
export const artifactsFile = (partial: string, index: number) =>
  `${partial}/artifacts/${artifactsName(index)}`;

/** Writes a record's artefacts (flushed, then renamed into place). */
export async function writeRecordArtifacts(
  partial: string,
  index: number,
  artifacts: Artifacts,
): Promise<void> {
  await writeTextFilesTogether([[artifactsFile(partial, index), JSON.stringify(artifacts)]]);
}

/** A record's artefacts read back; null when the file is missing or cut. */
export async function readRecordArtifacts(
  partial: string,
  index: number,
): Promise<Artifacts | null> {
  try {
    const value = JSON.parse(await Deno.readTextFile(artifactsFile(partial, index)));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * The run's artefact files by name: `last`'s (the edit's result) when the run made one edit. For
 * several edits (single and sequential mode), every record's, in the order of `indices`: an object
 * (KNE's ensemble) is the last record's, as the file always was, with `records`: each record's
 * object and its request `index`; a list (KN's edits, each naming its record) is every record's
 * entries in turn.
 */
export async function runArtifacts(
  partial: string,
  last: Artifacts,
  indices: readonly number[] | null,
): Promise<Record<string, unknown>> {
  if (indices === null || indices.length <= 1) return last;
  const perRecord: { index: number; artifacts: Artifacts }[] = [];
  for (const index of indices) {
    const artifacts = await readRecordArtifacts(partial, index);
    if (artifacts === null) throw new Error(`${artifactsFile(partial, index)}: missing or cut`);
    perRecord.push({ index, artifacts });
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(perRecord.at(-1)!.artifacts)) {
    out[name] = Array.isArray(value)
      ? perRecord.flatMap(({ artifacts }) => artifacts[name] as unknown[])
      : {
        ...(value as object),
        records: perRecord.map(({ index, artifacts }) => ({
          index,
          ...(artifacts[name] as object),
        })),
      };
  }
  return out;
}
