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

Deno.test("bench/sequential.ts: a run without some metric shows n/a; a run or model folder is no --out", async () => {
  const tmp = await Deno.makeTempDir();
  const table = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../bench/sequential.ts", import.meta.url).pathname, ...args],
      env: { NO_COLOR: "1" },
    }).output().then((r) => ({
      code: r.code,
      out: new TextDecoder().decode(r.stdout),
      err: new TextDecoder().decode(r.stderr),
    }));
  try {
    // A finished sequence of requests without rephrases or probes: metrics.json's mean has no
    // generalization, portability or locality (the command ended in a TypeError).
    const run = `${tmp}/run`;
    await Deno.mkdir(run);
    const metrics = {
      mode: "sequential",
      method: "kne",
      records: 2,
      mean: { editSucc: 100 },
      sequentialEditSucc: 100,
      retention: [{ lag: 0, held: 100, n: 2 }, { lag: 1, held: 100, n: 1 }],
      secondsPerEdit: { median: 1.5 },
    };
    await Deno.writeTextFile(`${run}/metrics.json`, JSON.stringify(metrics));
    await Deno.writeTextFile(`${run}/retention.svg`, "<svg>the run's own</svg>");
    const ok = await table("--out", `${tmp}/o`, run);
    assert.equal(ok.code, 0, ok.err);
    assert.match(
      ok.out,
      /\| kne \| 2 \| 100\.0 \| 100\.0 \| n\/a \| n\/a \| n\/a \| 1\.50 \| 100\.0 \|/,
    );
    // --out the run itself overwrote its retention.svg; a model folder got the three files.
    const model = `${tmp}/model`;
    await Deno.mkdir(model);
    await Deno.writeTextFile(`${model}/config.json`, "{}");
    await Deno.writeTextFile(`${model}/model.safetensors`, "");
    for (
      const [out, re] of [
        [run, /--out .*run is one of the runs it reads/],
        [`${run}/`, /--out .*run\/ is one of the runs it reads/],
        [model, /--out .*model is a model folder/],
        [`${model}/sub`, /--out .*model\/sub lies inside the model folder/],
      ]
    ) {
      const r = await table("--out", out as string, `X=${run}`);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, re as RegExp);
    }
    assert.equal(await Deno.readTextFile(`${run}/retention.svg`), "<svg>the run's own</svg>");
    assert.deepEqual([...Deno.readDirSync(model)].map((e) => e.name).sort(), [
      "config.json",
      "model.safetensors",
    ]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
