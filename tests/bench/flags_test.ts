// The benchmarks' flags (bench/flags.ts): `--name` and `--name=value` read back as given, and each
// benchmark stops with exit 2 and the known flags on an unknown name, a number that is not one or
// a list item that is no choice, before any work (a typo used to run the whole benchmark).

import assert from "node:assert/strict";
import { join } from "node:path";
import { benchFlags } from "../../bench/flags.ts";

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

Deno.test("every benchmark refuses an unknown flag or a bad value before any work", async () => {
  const ROOT = new URL("../../", import.meta.url).pathname;
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
  ];
  const results = await Promise.all(
    cases.map(([script, flag]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(ROOT, "bench", script), flag],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).output()
    ),
  );
  cases.forEach(([script, flag, re], i) => {
    const err = new TextDecoder().decode(results[i].stderr);
    assert.equal(results[i].code, 2, `${script} ${flag}: ${err}`);
    assert.match(err, re, `${script} ${flag}`);
  });
});
