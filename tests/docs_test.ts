// What the docs state about the code, held against it: docs/RELIABILITY.md's count of the tests
// in tests/reliability/ (it said 55 while the folder held 68) and its totals of fuzz cases and
// injected faults against its own table, README's list of the page's ?model= values, and that
// mod.ts documents what it exports and exports every type its public signatures name.

import assert from "node:assert/strict";
import { SHIPPED_SPLITS } from "../src/pipeline/models.ts";

const ROOT = new URL("../", import.meta.url);

/** How many tests `deno test` registers in `dir` (all filtered out: none runs). */
async function registeredTests(dir: string): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check", "--filter", "no test is named this", dir],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
  const m = text.match(/\| 0 passed \| 0 failed \| (\d+) filtered out/);
  assert.ok(m, text);
  return Number(m[1]);
}

Deno.test("docs/RELIABILITY.md counts the tests tests/reliability/ holds", async () => {
  const doc = await Deno.readTextFile(new URL("docs/RELIABILITY.md", ROOT));
  const stated = doc.match(/\((\d+) tests: `deno test -A tests\/reliability\/`/);
  assert.ok(stated, "RELIABILITY.md no longer states the count");
  assert.equal(Number(stated[1]), await registeredTests("tests/reliability/"));
});

Deno.test("docs/RELIABILITY.md's totals are the sums of its table", async () => {
  const doc = await Deno.readTextFile(new URL("docs/RELIABILITY.md", ROOT));
  // The last cell of each row of the table under "How it is tested".
  const table = doc.slice(doc.indexOf("### How it is tested"), doc.indexOf("\nIn all: "));
  const counts = table.split("\n").filter((l) => l.startsWith("| ")).map((l) =>
    l.split("|").at(-2)!.trim()
  );
  const number = (s: string) => Number(s.replaceAll(",", ""));
  const sum = (re: RegExp) =>
    counts.reduce((a, c) => a + [...c.matchAll(re)].reduce((b, m) => b + number(m[1]), 0), 0);
  const stated = doc.match(/In all: ([\d,]+) fuzz cases and ([\d,]+) injected faults/);
  assert.ok(stated, "RELIABILITY.md no longer states the totals");
  // Fuzz suites' cells begin with their case count; plan_test's "25 + 10 + ..." are not fuzz.
  assert.equal(number(stated[1]), sum(/^([\d,]+) cases/g), "fuzz cases");
  // It said 166 while its rows added up to 164 (and the tests injected 182).
  assert.equal(number(stated[2]), sum(/([\d,]+) faults/g), "injected faults");
});

Deno.test("README's ?model= list names every model the page offers", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const list = readme.match(/&model=([a-z0-9|-]+)`/);
  assert.ok(list, "README no longer lists ?model= values");
  // The page offers every model of SHIPPED_SPLITS (web/main.ts); it listed two of the three.
  assert.deepEqual(list[1].split("|").sort(), Object.keys(SHIPPED_SPLITS).sort());
});

Deno.test("every name mod.ts exports has a doc comment", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", "mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  type Declaration = { jsDoc?: { doc?: string } };
  const symbols = Object.values(doc.nodes as Record<string, { symbols: unknown[] }>)
    .flatMap((n) => n.symbols as { name: string; declarations: Declaration[] }[]);
  assert.ok(symbols.length > 50, `only ${symbols.length} exports found`);
  // 24 of 58 had none (SessionModel, EditOptions, EditOutcome, createBackend, METHODS...).
  const undocumented = symbols.filter((s) => !s.declarations.some((d) => d.jsDoc?.doc?.trim()))
    .map((s) => s.name);
  assert.deepEqual(undocumented, []);
});

/** The "private type" errors `deno doc --lint` reports for `file`: "public -> private" each. */
async function privateTypeRefs(file: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", file],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  // It fails for other lints too (members without a doc comment), which this does not ask for.
  assert.ok(out.success || /Found \d+ documentation lint errors?/.test(text), text);
  return [...text.matchAll(/public type '(.+)' references private type '(.+)'/g)]
    .map((m) => `${m[1]} -> ${m[2]}`);
}

Deno.test("every type a public signature of mod.ts names is exported by mod.ts", async () => {
  // The check finds one where there is one (a vacuous pass if deno's wording changed).
  const dir = await Deno.makeTempDir({ prefix: "kne-doc-lint-" });
  try {
    await Deno.writeTextFile(
      `${dir}/probe.ts`,
      "interface Hidden { a: number }\nexport const x: Hidden = { a: 1 };\n",
    );
    assert.deepEqual(await privateTypeRefs(`${dir}/probe.ts`), ["x -> Hidden"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // 47 signatures named 27 types mod.ts did not export (SessionModel's CausalLM and Tokenizer,
  // parseHparams' HparamsSchema, Backend's DeviceBuffer...), which a caller could not name.
  assert.deepEqual(await privateTypeRefs("mod.ts"), []);
});
