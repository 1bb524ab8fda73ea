// bench/RESULTS.md, added to by the benchmarks: a dated entry at the end of its section (the
// section made, with its introduction, when the file has none), laid out as `deno fmt` lays it
// out so that the repository's format check stays clean.

const FILE = new URL("./RESULTS.md", import.meta.url);

/** "### 2026-12-06 10:05 UTC: `command`": an entry's heading, for the command run now. */
export function entryHeading(command: string): string {
  return `### ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC: \`${command}\``;
}

/** Adds `entry` at the end of the section under `heading`, made with `intro` if absent. */
export function addEntry(heading: string, intro: string, entry: string): void {
  let text = "";
  try {
    text = Deno.readTextFileSync(FILE);
  } catch { /* new file */ }
  const at = text.indexOf(heading);
  if (at < 0) {
    text = (text.trimEnd() ? text.trimEnd() + "\n\n" : "") + heading + "\n\n" + intro + "\n\n" +
      entry;
  } else {
    // Before the next "## " heading, if another section follows.
    const next = text.indexOf("\n## ", at + heading.length);
    const end = next < 0 ? text.length : next + 1;
    const before = text.slice(0, end).trimEnd();
    text = before + "\n\n" + entry + (next < 0 ? "" : "\n" + text.slice(end));
  }
  Deno.writeTextFileSync(FILE, text.endsWith("\n") ? text : text + "\n");
  new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", FILE.pathname], stderr: "null" })
    .outputSync();
}
