// The files of a comparison's folder (scripts/compare.ts). Its table, data and chart get their
// final names (comparison.md, .json, .svg) only when every method ran; an interrupted comparison's
// are comparison.interrupted.md, .json and .svg, the table's first line saying so, so a partial
// table is never taken for a finished one. Each file is written whole (a temporary renamed), the
// JSON last: a finished comparison is one whose comparison.json is there. Also: whether a folder
// holds an unfinished comparison (for the refusal's --resume hint), and what a new comparison
// clears first: the tables of an earlier one, and with --force the method folders of methods not
// in it, each only when this tool wrote it (src/pipeline/output-guard.ts).

import { present, writeTextAtomically } from "../io/files.ts";
import {
  comparisonJson,
  comparisonMarkdown,
  type ComparisonMeta,
  type ComparisonRow,
  comparisonSvg,
  type Interruption,
} from "../report/comparison.ts";
import { checkReplaceable, GuardError, OUTPUT_MARKER } from "./output-guard.ts";

/** The marker kind of a comparison's folder (markOutput). */
export const COMPARISON_KIND = "compare";

/** The table, data and chart of a finished comparison, or of an interrupted one. */
export function tableFiles(interrupted: boolean): { md: string; json: string; svg: string } {
  const stem = interrupted ? "comparison.interrupted" : "comparison";
  return { md: `${stem}.md`, json: `${stem}.json`, svg: `${stem}.svg` };
}

/** Writes the comparison's files into `out`: at the final names only when not interrupted. */
export async function writeTables(
  out: string,
  rows: readonly ComparisonRow[],
  meta: ComparisonMeta,
  interrupted?: Interruption,
): Promise<{ md: string; json: string; svg: string }> {
  const f = tableFiles(interrupted !== undefined);
  await writeTextAtomically(`${out}/${f.md}`, comparisonMarkdown(rows, meta, interrupted));
  await writeTextAtomically(`${out}/${f.svg}`, comparisonSvg(rows, meta, interrupted));
  const json = {
    ...(comparisonJson(rows, meta) as object),
    interrupted: interrupted !== undefined,
  };
  await writeTextAtomically(`${out}/${f.json}`, JSON.stringify(json, null, 2));
  return f;
}

/** Removes the tables an earlier run left in `out` (regular files only; absent is fine). */
export async function removeTables(out: string): Promise<void> {
  for (const interrupted of [false, true]) {
    for (const name of Object.values(tableFiles(interrupted))) {
      const path = `${out}/${name}`;
      const info = await Deno.lstat(path).catch(() => null);
      if (info?.isFile) await Deno.remove(path);
    }
  }
}

/**
 * Whether `out` is a comparison's folder of this tool whose comparison did not finish: killed or
 * interrupted (no comparison.json; before the interrupted tables had names of their own,
 * comparison.json said "interrupted": true).
 */
export async function unfinishedComparison(out: string): Promise<boolean> {
  try {
    const marker = JSON.parse(await Deno.readTextFile(`${out}/${OUTPUT_MARKER}`));
    if (marker?.kind !== COMPARISON_KIND) return false;
    const text = await Deno.readTextFile(`${out}/${tableFiles(false).json}`).catch(() => null);
    return text === null || JSON.parse(text)?.interrupted === true;
  } catch {
    return false;
  }
}

/**
 * Removes from `out` the run folders (<method>, .partial, .old) of the methods in `names` but not
 * in `kept` that this tool wrote; a folder of the user's of such a name is left alone. Returns the
 * paths removed.
 */
export async function removeOtherMethods(
  out: string,
  names: Iterable<string>,
  kept: ReadonlySet<string>,
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of names) {
    if (kept.has(name)) continue;
    for (const path of [`${out}/${name}`, `${out}/${name}.partial`, `${out}/${name}.old`]) {
      if (!(await present(path))) continue;
      try {
        await checkReplaceable(path);
      } catch (e) {
        if (e instanceof GuardError) continue;
        throw e;
      }
      await Deno.remove(path, { recursive: true });
      removed.push(path);
    }
  }
  return removed;
}
