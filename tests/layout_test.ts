// README's Layout table, held against the tree: every script in scripts/ has its own row, saying
// what it does (the table listed five of the thirteen), and no row names a script that is gone.

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The rows of README's "## Layout" table, as [path cell, what cell]. */
async function layoutRows(): Promise<[string, string][]> {
  const text = await Deno.readTextFile(new URL("README.md", ROOT));
  const start = text.indexOf("\n## Layout\n");
  assert.ok(start >= 0, "README.md has no ## Layout section");
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end < 0 ? undefined : end).split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| path ") && !l.startsWith("| ---"))
    .map((l) => l.split(" | ").map((c) => c.replace(/^\|\s*|\s*\|$/g, "").trim()))
    .map(([path, what]) => [path, what ?? ""]);
}

Deno.test("README's Layout table has a row for every script in scripts/", async () => {
  const scripts = [...Deno.readDirSync(new URL("scripts/", ROOT))]
    .filter((e) => e.isFile && e.name.endsWith(".ts"))
    .map((e) => `scripts/${e.name}`)
    .sort();
  const rows = await layoutRows();
  const listed = rows.map(([path]) => path.replace(/`/g, "")).filter((p) =>
    p.startsWith("scripts/")
  );
  assert.deepEqual([...listed].sort(), scripts, "scripts/ and README's Layout table differ");
  for (const [path, what] of rows) {
    if (path.includes("scripts/")) assert.ok(what.length > 20, `${path}: no description`);
  }
});
