// bench/tune.ts: the grid expands to every combination, and the selection rule picks the best
// Edit Succ./Generalization among editing trials at the Locality floor, never a no-op, falling
// back to the mean of the three when no trial qualifies; a test split as the anchor pool or the
// scored requests, a model without an anchor split and no --anchors, and anchors equal to the
// requests are refused before any trial runs; --resume keeps the trials finished with the same
// inputs and continues one that was killed, ending with the same figures as a search never stopped.

import { deepEqual, equal } from "node:assert/strict";
import { chooseTrial, gridPoints } from "../../bench/tune.ts";

const trial = (editSucc: number, generalization: number, locality: number, params = 1) => ({
  editSucc,
  generalization,
  locality,
  portability: 0,
  paramsChangedPct: params,
  secondsPerEditMedian: 0,
});

Deno.test("gridPoints is the cartesian product in key order", () => {
  deepEqual(gridPoints({ a: [1, 2], b: ["x", "y", "z"] }).length, 6);
  deepEqual(gridPoints({ a: [1, 2], b: ["x"] }), [{ a: 1, b: "x" }, { a: 2, b: "x" }]);
});

Deno.test("chooseTrial: floor first, no-ops excluded, mean of three as the fallback", () => {
  const noOp = trial(13.5, 14.5, 100, 0);
  const good = trial(95, 90, 91);
  const better = trial(100, 96, 85);
  equal(chooseTrial([noOp, good, better], 90), good);
  const weak = trial(60, 50, 80), strong = trial(75, 55, 79);
  equal(chooseTrial([noOp, weak, strong], 90), strong);
  // Ties on the score go to the trial that changes fewer parameters.
  const small = trial(95, 90, 91, 0.5);
  equal(chooseTrial([good, small], 90), small);
});

Deno.test("tune.ts refuses to read a test split, to tune without anchors, or a grid no trial can run", async () => {
  const ROOT = new URL("../../", import.meta.url).pathname;
  const tune = async (...args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "bench/tune.ts", "--method", "kne", "--grid", '{"topP":[0.01]}', ...args],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
    }).output();
    return { code: r.code, err: new TextDecoder().decode(r.stderr) };
  };
  const cases: [string[], RegExp][] = [
    [
      ["--model", "tests/fixtures/tiny-gpt2", "--requests", "tests/fixtures/requests-tiny.json"],
      /--anchors is required for this model/,
    ],
    [["--anchors", "data/requests/test.json"], /--anchors .* is the test split/],
    [
      ["--model", "models/kne-facts-base", "--anchors", "./data/../data/requests/base-test.json"],
      /--anchors .*base-test\.json is the test split/,
    ],
    [
      ["--model", "models/kne-facts-base", "--requests", "data/requests/base-test.json"],
      /--requests data\/requests\/base-test\.json is the test split/,
    ],
    [
      ["--model", "models/kne-facts", "--anchors", "data/requests/dev.json"],
      /--anchors is the --requests file/,
    ],
    [["--anchors", "data/requests/base-dev.json"], /--anchors is the --requests file/],
    [["--anchors", "data/requests/missing.json"], /--anchors .*missing\.json: no such file/],
    // A method, setting or flag that every trial would fail on is refused before the first.
    [["--method", "nope"], /--method must be one of kne, .*got "nope"/],
    [["--grid", '{"topQ":[1]}'], /--grid: kne has no setting "topQ" \(igSteps, /],
    [["--grid", '{"topP":0.01}'], /--grid: "topP" must be a non-empty list/],
    [["--grid", "[1]"], /--grid must be a JSON object/],
    [["--bogus"], /Unknown option '--bogus'/],
    // Found after the whole search, before: a floor that is no number.
    [["--locality-floor", "ninety"], /--locality-floor must be a number/],
  ];
  for (const [args, re] of cases) {
    const r = await tune(...args);
    equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    equal(re.test(r.err), true, `${args.join(" ")}: ${r.err}`);
  }
});

Deno.test({
  name: "tune.ts --resume keeps finished trials and continues a killed one",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const ROOT = new URL("../../", import.meta.url).pathname;
    const tmp = await Deno.makeTempDir({ prefix: "kne-tune-" });
    const tune = async (out: string, extra: string[], env: Record<string, string> = {}) => {
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-A", "bench/tune.ts", "--method", "kne", "--out", `${tmp}/${out}`],
          ...["--model", "tests/fixtures/tiny-gpt2", "--n", "3"],
          ...["--requests", "tests/fixtures/reliability-requests.json"],
          ...["--anchors", "tests/fixtures/requests-tiny.json"],
          ...["--grid", '{"igSteps":[2],"steps":[4,8]}', ...extra],
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1", ...env },
      }).output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      // The trials' JSON lines, without their seconds (the only figure a rerun may change).
      const trials = text(r.stdout).split("\n").filter((l) => l.startsWith("{"))
        .map((l) => ({ ...JSON.parse(l), secondsPerEditMedian: 0 }));
      return { code: r.code, err: text(r.stderr), trials };
    };
    try {
      const whole = await tune("whole", []);
      equal(whole.code, 0, whole.err);
      equal(whole.trials.length, 2);
      // The first trial's edit command is killed after its second record: the search stops.
      const killed = await tune("resumed", [], { KNE_FAULT_KILL_AFTER: "2" });
      equal(killed.code, 2, killed.err);
      equal(/trial t1 failed[^]*rerun with --resume/.test(killed.err), true, killed.err);
      const resumed = await tune("resumed", ["--resume"]);
      equal(resumed.code, 0, resumed.err);
      equal(/trial t1: continuing/.test(resumed.err), true, resumed.err);
      deepEqual(resumed.trials, whole.trials);
      const again = await tune("resumed", ["--resume"]);
      equal(again.code, 0, again.err);
      equal((again.err.match(/finished earlier with the same inputs/g) ?? []).length, 2, again.err);
      deepEqual(again.trials, whole.trials);
      // Other inputs (here --n): the trials run afresh, not read back.
      const other = await tune("resumed", ["--resume", "--n", "2"]);
      equal(other.code, 0, other.err);
      equal(/finished earlier/.test(other.err), false, other.err);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
