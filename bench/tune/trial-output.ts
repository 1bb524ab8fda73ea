// What a trial's edit command printed, read by the search: its error line, why it failed and
// whether --resume can help, the records it saved, and one progress line per finished record.

/** A child's first `error:` line, without its prefix (null: it printed none). */
export function childError(stderr: readonly string[]): string | null {
  const line = stderr.find((l) => l.startsWith("error: "));
  return line === undefined ? null : line.slice("error: ".length);
}

/** The last few non-empty lines of a child's stderr, joined (null: none). */
export function lastLines(stderr: readonly string[], n = 5): string | null {
  const lines = stderr.filter((l) => l.trim() !== "").slice(-n);
  return lines.length ? lines.join("\n") : null;
}

export function exitOf(status: Deno.CommandStatus): string {
  return status.signal ? `killed by ${status.signal}` : `exit status ${status.code}`;
}

/**
 * Why trial `name` failed, from its edit command's exit and stderr, and whether `--resume` can
 * help: only when the trial was cut off mid-run (killed by a signal, interrupted: exit 130) or
 * failed after saving records that a resumed trial continues from. A refused argument or input
 * (exit 2), or a failure before any record (a missing model, build or file), would fail again.
 */
export function trialFailure(
  name: string,
  status: Deno.CommandStatus,
  stderr: readonly string[],
  savedRecords: number,
): { message: string; resumable: boolean } {
  const resumable = status.signal !== null || status.code === 130 ||
    (status.code !== 2 && savedRecords > 0);
  const why = childError(stderr) ??
    (status.signal ? `the edit command was killed by ${status.signal}` : null) ??
    lastLines(stderr) ?? `the edit command ended with ${exitOf(status)}`;
  const saved = savedRecords > 0
    ? `; ${savedRecords} finished record${savedRecords === 1 ? " is" : "s are"} saved`
    : "";
  return {
    message: `trial ${name} failed: ${why}${
      resumable
        ? `\n(${saved ? saved.slice(2) + ": " : ""}rerun with --resume to keep the finished ` +
          `trials and continue this one)`
        : ""
    }`,
    resumable,
  };
}

/** The records a trial's interrupted run saved (OUT.partial/records.jsonl). */
export async function savedRecords(dir: string): Promise<number> {
  const text = await Deno.readTextFile(`${dir}/run.partial/records.jsonl`).catch(() => "");
  return text.split("\n").filter((l) => l.trim() !== "").length;
}

/**
 * One progress line per record the trial's edit command finished (it prints "#<index> ..." on
 * stderr for each), counted as "record k/N" from its "N request(s)" and resumed-records lines.
 */
export function progressPrinter(name: string): (line: string) => void {
  let total: number | null = null;
  let done = 0;
  return (line) => {
    const planned = /^method: .*?, (\d+) request\(s\)/.exec(line);
    if (planned) total = Number(planned[1]);
    const kept = /^resuming .*: (\d+) finished record\(s\) kept/.exec(line);
    if (kept) done = Number(kept[1]);
    if (/^#\d+ /.test(line)) {
      done++;
      console.error(`trial ${name}: record ${done}${total === null ? "" : `/${total}`}: ${line}`);
    }
  };
}
