// bench/sequential.ts's lag bins: each bin's value is the mean over every measurement whose lag
// falls in it, which is the curve's per-lag means weighted by their counts; and how a rerun's rows
// join the rows of an earlier table; the command's bad inputs end in one error line.

import assert from "node:assert/strict";
import fc from "fast-check";
import { binRetention, joinRuns } from "../../bench/sequential.ts";
import { retentionCurve } from "../../src/eval/retention.ts";

Deno.test("binRetention: the mean of every measurement in a bin's lags", () => {
  fc.assert(fc.property(
    fc.array(fc.array(fc.constantFrom<number>(0, 0.5, 1), { minLength: 1, maxLength: 6 }), {
      minLength: 1,
      maxLength: 6,
    }),
    (sequence) => {
      // Checks after 1, 2, ... edits; check k holds k values (cut or padded from the draw).
      const checks = sequence.map((v, k) => ({
        made: k + 1,
        editSucc: Array.from({ length: k + 1 }, (_, i) => v[i % v.length]),
      }));
      const bins = [[0, 0], [1, 2], [3, 9]] as const;
      const got = binRetention(retentionCurve(checks), bins);
      return bins.every(([lo, hi], b) => {
        const xs = checks.flatMap((c) =>
          c.editSucc.filter((_, i) => c.made - (i + 1) >= lo && c.made - (i + 1) <= hi)
        );
        if (xs.length === 0) return got[b] === null;
        const want = (100 * xs.reduce((a, x) => a + x, 0)) / xs.length;
        return got[b] !== null && Math.abs(got[b]! - want) < 1e-9;
      });
    },
  ));
});

Deno.test("joinRuns keeps earlier rows in order, replaces one of the same label, appends the rest", () => {
  const row = (method: string, v: number) => ({ method, v });
  const got = joinRuns([row("kne", 1), row("ft-m", 2)], [row("kne (seq)", 3), row("ft-m", 4)]);
  assert.deepEqual(got, [row("kne", 1), row("ft-m", 4), row("kne (seq)", 3)]);
});

Deno.test("bench/sequential.ts: a missing or unfinished run and a bad argument end in one error line", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${tmp}/metrics.json`, '{"mode":"single"}');
    const cases: [string[], number, RegExp][] = [
      [[], 2, /^error: give --out DIR and at least one run/m],
      [["--out", `${tmp}/o`, `${tmp}/none`], 1, /^error: .*none\/metrics\.json: no such file/m],
      [["--out", `${tmp}/o`, tmp], 1, /not a finished sequential run \(mode single\)/],
      [["--out", `${tmp}/o`, "LABEL="], 1, /"LABEL=": expected RUN_DIR or LABEL=RUN_DIR/],
    ];
    for (const [args, code, re] of cases) {
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../bench/sequential.ts", import.meta.url).pathname,
          ...args,
        ],
        env: { NO_COLOR: "1" },
      }).output();
      const err = new TextDecoder().decode(r.stderr);
      assert.equal(r.code, code, err);
      assert.match(err, re);
      assert.doesNotMatch(err, /\n\s+at /);
    }
    assert.equal(await Deno.stat(`${tmp}/o`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
