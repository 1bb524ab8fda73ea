// A script's flags (src/cli/flags.ts): values and defaults read back typed as given; `--help`
// prints the usage to stdout and exits 0, an unknown flag or a stray argument exits 2 with the
// usage's synopsis after the error (each script's own refusals are in
// tests/reliability/script_errors_test.ts).
// wholeNumber reads a flag's integer strictly (no "1e3", "0x10", "12.0").

import assert from "node:assert/strict";
import { join } from "node:path";
import { synopsis } from "../../src/cli/fail.ts";
import { parseFlags, wholeNumber } from "../../src/cli/flags.ts";

Deno.test("parseFlags reads values, defaults and switches", () => {
  const v = parseFlags(
    {
      port: { type: "string", default: "8000" },
      n: { type: "string" },
      force: { type: "boolean" },
    },
    "usage",
    ["--n", "3", "--force"],
  );
  assert.deepEqual({ ...v }, { port: "8000", n: "3", force: true });
});

Deno.test("--help prints the usage and exits 0; an unknown flag or argument exits 2", async () => {
  const card = join(new URL("../../", import.meta.url).pathname, "scripts/card.ts");
  const run = async (...args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", card, ...args],
      env: { NO_COLOR: "1" },
    }).output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
  };
  const [help, short, unknown, stray] = await Promise.all([
    run("--help"),
    run("-h"),
    run("--modle", "x"),
    run("x"),
  ]);
  for (const r of [help, short]) {
    assert.equal(r.code, 0);
    assert.match(r.out, /^Usage: deno task card --model DIR/);
  }
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /^error: Unknown option '--modle'[^]*\n\nUsage: deno task card/);
  assert.equal(stray.code, 2);
  assert.match(stray.err, /^error: Unexpected argument 'x'/);
});

Deno.test("wholeNumber reads decimal digits only, within the safe integers", () => {
  for (const [text, want] of [["0", 0], ["42", 42], ["-7", -7], ["007", 7]] as const) {
    assert.equal(wholeNumber(text), want);
  }
  for (const text of ["", "1e3", "0x10", "12.0", "1.5", " 3", "+3", "abc", "9007199254740993"]) {
    assert.equal(wholeNumber(text), null, text);
  }
});

Deno.test("after an error only the usage's synopsis is printed, with where the rest is", () => {
  // The edit command printed its 35-line usage after every bad flag, scrolling the error away.
  assert.equal(
    synopsis("Usage: x [options]\n\n  --a   A\n  --b   B"),
    "Usage: x [options]\n(--help lists every option)",
  );
  assert.equal(synopsis("Usage: x --y"), "Usage: x --y");
});
