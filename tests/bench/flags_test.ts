// The benchmarks' flags (bench/flags.ts): `--name` and `--name=value` read back as given, and each
// benchmark stops with exit 2 and the known flags on an unknown name, a number that is not one or
// a list item that is no choice, before any work (a typo used to run the whole benchmark);
// `--help` / `-h` print the usage line of the benchmark's header comment and its flags, exit 0.

import assert from "node:assert/strict";
import { join } from "node:path";
import { benchFlags, benchUsage, headerUsage } from "../../bench/flags.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function bench(script: string, args: string[]): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "bench", script), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/** stderr's lines of the command's own: Deno may first say it waits for node_modules' lock. */
function ownLines(err: string): string[] {
  return err.trim().split("\n").filter((l) => !l.startsWith("Blocking waiting"));
}

Deno.test("benchFlags reads switches, values, integers and lists", () => {
  const f = benchFlags(["json", "rounds", "models", "warmup"], [
    "--json",
    "--rounds=5",
    "--models=a,b",
  ]);
  assert.equal(f.has("json"), true);
  assert.equal(f.has("warmup"), false);
  assert.equal(f.get("rounds"), "5");
  assert.equal(f.int("rounds", 3, 1), 5);
  assert.equal(f.int("warmup", 2, 0), 2, "absent: the default");
  assert.deepEqual(f.list("models", ["a", "b", "c"]), ["a", "b"]);
  assert.equal(f.list("warmup", ["x"]), undefined);
});

Deno.test("benchFlags: the flags a benchmark says take a value may be written --name value", () => {
  const f = benchFlags(["model", "n", "json"], ["--model", "m/x", "--n=3", "--json"], {
    values: ["model", "n"],
  });
  assert.equal(f.get("model"), "m/x");
  assert.equal(f.int("n", 100, 1), 3);
  assert.equal(f.has("json"), true);
  assert.equal(benchFlags(["n"], ["--n", "-2"], { values: ["n"] }).get("n"), "-2");
});

Deno.test("headerUsage: the header comment's usage line and its continuation lines", () => {
  const src = [
    "// A benchmark.",
    "//",
    "//   deno task bench:x [--json] [--rounds=N]",
    "//                     [--quick]",
    "//",
    "// --json prints one object per line.",
    "",
    "// deno task not-this",
  ].join("\n");
  assert.equal(headerUsage(src), "deno task bench:x [--json] [--rounds=N]\n  [--quick]");
  assert.equal(
    headerUsage("// Samples. `deno run -A bench/y.ts [--n N]`, after a build.\n"),
    "deno run -A bench/y.ts [--n N]",
  );
  assert.equal(headerUsage("// No usage here.\nconst x = 1;\n"), null);
  const usage = benchUsage(["json", "rounds"], { usage: "deno task bench:x [--json]" });
  assert.match(usage, /^Usage: deno task bench:x \[--json\]\n\nFlags: --json, --rounds\n/);
  assert.match(usage, /-h, --help/);
});

Deno.test("every benchmark prints its usage on --help / -h and exits 0 before any work", async () => {
  const cases: [string, string, RegExp][] = [
    ["matmul.ts", "--help", /^Usage: deno task bench:matmul \[--json\] .*\n\nFlags: --json, /],
    ["model.ts", "-h", /^Usage: deno task bench:model .*\n {2}\[--threads=N\] [^]*Flags: --json, /],
    ["edit.ts", "--help", /^Usage: deno task bench:edit [^]*Flags: --json, --profile, --edits/],
    ["train.ts", "--help", /^Usage: deno task bench:train \[--shapes=[^]*Flags: --shapes/],
    ["fluency.ts", "--help", /^Usage: deno task bench:fluency \[--model DIR\] [^]*--n/],
    ["fluency.ts", "-h", /^Usage: deno task bench:fluency /],
  ];
  const results = await Promise.all(cases.map(([script, flag]) => bench(script, [flag])));
  cases.forEach(([script, flag, re], i) => {
    const out = new TextDecoder().decode(results[i].stdout);
    const err = new TextDecoder().decode(results[i].stderr);
    assert.equal(results[i].code, 0, `${script} ${flag}: ${err}`);
    assert.match(out, re, `${script} ${flag}`);
    assert.match(out, /-h, --help/, `${script} ${flag}`);
  });
});

Deno.test("every benchmark refuses an unknown flag or a bad value before any work", async () => {
  const cases: [string, string, RegExp][] = [
    ["model.ts", "--round=5", /unknown flag "--round=5"; flags: --json, /],
    ["model.ts", "--rounds=abc", /--rounds must be an integer >= 1, got "abc"/],
    ["edit.ts", "--models=gpt3", /--models: "gpt3" is none of gpt2-small, gpt2-medium, llama-1b/],
    ["edit.ts", "--llama-layers=0", /--llama-layers must be an integer >= 1, got "0"/],
    ["edit.ts", "--dtypes=f64", /--dtypes: "f64" is none of f32, f16/],
    ["matmul.ts", "--rounds=2.5", /--rounds must be an integer >= 1, got "2.5"/],
    ["matmul.ts", "quick", /unknown flag "quick"/],
    ["train.ts", "--shapes=facts,huge", /--shapes: "huge" is none of facts, base/],
    ["train.ts", "--steps=-1", /--steps must be an integer >= 1, got "-1"/],
    ["fluency.ts", "--bogus", /unknown flag "--bogus"; flags: --model, --requests, --n/],
    ["fluency.ts", "--n=abc", /--n must be an integer >= 1, got "abc"/],
    ["fluency.ts", "--model", /--model needs a value/],
    ["browser.ts", "--edits=0", /--edits must be an integer >= 1, got "0"/],
    ["browser.ts", "--bogus", /unknown flag "--bogus"; flags: --model, --edits, --rounds/],
    ["browser.ts", "--model=nope", /--model nope: not a shipped model \(kne-facts, /],
  ];
  const results = await Promise.all(cases.map(([script, flag]) => bench(script, [flag])));
  cases.forEach(([script, flag, re], i) => {
    const err = new TextDecoder().decode(results[i].stderr);
    assert.equal(results[i].code, 2, `${script} ${flag}: ${err}`);
    assert.match(err, re, `${script} ${flag}`);
    // One error line, no stack trace.
    assert.equal(ownLines(err).length, 1, `${script} ${flag}: ${err}`);
  });
});

Deno.test("bench:fluency ends a missing model folder or a bad request file with one error line", async () => {
  const bad = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(bad, '[{"prompt": "x"');
    const cases: [string[], RegExp][] = [
      [["--model", "/nonexistent/kne-model"], /^error: \/nonexistent\/kne-model\/config\.json: /m],
      [["--requests", bad, "--n", "1"], /^error: .*: invalid JSON/m],
    ];
    for (const [args, re] of cases) {
      const r = await bench("fluency.ts", args);
      const err = new TextDecoder().decode(r.stderr);
      assert.equal(r.code, 1, err);
      assert.match(err, re);
      assert.equal(ownLines(err).length, 1, err);
    }
  } finally {
    await Deno.remove(bad);
  }
});

Deno.test("the bench and build tools without flag tables answer --help, and refuse a used OUT", async () => {
  // load-weights took --help for a model folder (a stack trace), random-llama-1b exited 2, and
  // the build scripts ran a build; random-llama-1b wrote over any OUT, a shipped model's too.
  const script = (path: string, args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, path), ...args],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const cases: [string, string[], number, RegExp][] = [
    [
      "bench/load-weights.ts",
      ["--help"],
      0,
      /^Usage: deno run -A bench\/load-weights\.ts MODEL_DIR/,
    ],
    ["bench/load-weights.ts", ["/nonexistent-kne"], 1, /^error: .*file not found/],
    ["bench/random-llama-1b.ts", ["-h"], 0, /^Usage: deno run -A bench\/random-llama-1b\.ts/],
    ["bench/random-llama-1b.ts", ["models/kne-facts"], 2, /^error: models\/kne-facts is not empty/],
    ["scripts/build-wasm.ts", ["--help"], 0, /^Usage: deno task build:wasm \[--force\]/],
    ["scripts/build-web.ts", ["--help"], 0, /^Usage: deno task build:web/],
    ["scripts/build-web.ts", ["--bogus"], 2, /^Usage: deno task build:web/],
  ];
  const results = await Promise.all(cases.map(([path, args]) => script(path, args)));
  cases.forEach(([path, args, code, re], i) => {
    const err = ownLines(new TextDecoder().decode(results[i].stderr)).join("\n");
    assert.equal(results[i].code, code, `${path} ${args}: ${err}`);
    assert.match(err, re, `${path} ${args}`);
  });
});
