// `deno task make-requests` (scripts/make-requests.ts) on its command line: --help / -h print the
// usage, which names every file the command writes, and exit 0; an unknown flag or a stray
// argument exits 2 with the usage. None of these writes anything (the command used to ignore its
// arguments and regenerate the committed data files).

import assert from "node:assert/strict";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
/** Every file the command writes. */
const WRITTEN = [
  "data/requests/test.json",
  "data/requests/dev.json",
  "data/requests/anchors.json",
  "data/tokenizer/tokenizer.json",
  "data/tokenizer/tokenizer_config.json",
  "data/corpus-stats.json",
];

async function run(args: string[], env: Record<string, string> = {}) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts/make-requests.ts"), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function mtimes(): Promise<(number | undefined)[]> {
  return await Promise.all(
    WRITTEN.map((f) => Deno.stat(join(ROOT, f)).then((s) => s.mtime?.getTime(), () => undefined)),
  );
}

Deno.test("make-requests: --help / -h print the usage naming every file it writes, write nothing", async () => {
  const before = await mtimes();
  for (const flag of ["--help", "-h"]) {
    const r = await run([flag]);
    assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: deno task make-requests\n/);
    for (const f of WRITTEN) assert.ok(r.stdout.includes(f), `${flag}: the usage names ${f}`);
    assert.equal(r.stderr, "");
  }
  assert.deepEqual(await mtimes(), before, "a data file was written");
});

Deno.test("make-requests: an unknown flag or an argument exits 2 with the usage, writes nothing", async () => {
  const before = await mtimes();
  for (
    const [args, re] of [
      [["--bogus"], /Unknown option '--bogus'/],
      [["--help=1"], /--help/],
      [["extra"], /Unexpected argument 'extra'/],
    ] as const
  ) {
    const r = await run([...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.match(r.stderr, /Usage: deno task make-requests/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    assert.equal(r.stdout, "");
  }
  assert.deepEqual(await mtimes(), before, "a data file was written");
});

Deno.test("make-requests: a KNE_FACTS_SEED that is no integer exits 2, writes nothing", async () => {
  // It used to become a NaN seed and regenerate the files from it.
  const before = await mtimes();
  const r = await run([], { KNE_FACTS_SEED: "abc" });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /KNE_FACTS_SEED must be an integer, got "abc"/);
  assert.deepEqual(await mtimes(), before, "a data file was written");
});
