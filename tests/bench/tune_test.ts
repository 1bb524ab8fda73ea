// bench/tune.ts: the grid expands to every combination, and the selection rule picks the best
// Edit Succ./Generalization among editing trials at the Locality floor, never a no-op, falling
// back to the mean of the three when no trial qualifies; a test split as the anchor pool or the
// scored requests, a model without an anchor split and no --anchors, and anchors equal to the
// requests are refused before any trial runs; --resume keeps the trials finished with the same
// inputs and continues one that was killed, ending with the same figures as a search never stopped.
// A bad --n, --mode or grid value is refused up front by the edit command's rules; a failed trial
// shows the edit command's error line and suggests --resume only where it helps; each finished
// record is a progress line; Ctrl-C lets the running trial finish its record and exit before the
// search exits 130, so --resume works at once; a fresh tree gets its kernels built first. An --out
// that is a file, or a folder of the user's with files in it, is refused before any trial writes.

import { deepEqual, equal } from "node:assert/strict";
import { chooseTrial, gridPoints } from "../../bench/tune.ts";
import { childError, trialFailure } from "../../bench/tune/trial-output.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const text = (b: Uint8Array) => new TextDecoder().decode(b);
/** The tiny model and its requests, for a search that really runs. */
const TINY = [
  ...["--model", "tests/fixtures/tiny-gpt2"],
  ...["--requests", "tests/fixtures/reliability-requests.json"],
  ...["--anchors", "tests/fixtures/requests-tiny.json"],
];

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
    // Read as the edit command reads them (each trial would fail with its usage).
    [["--n", "0"], /^error: --n must be a positive integer, got "0"$/m],
    [["--n", "abc"], /^error: --n must be a positive integer, got "abc"$/m],
    [["--n", "5.0"], /--n must be a positive integer, got "5.0"/],
    [["--mode", "nope"], /^error: --mode must be single, batch or sequential, got "nope"$/m],
    [["--backend", "cuda"], /--backend must be webgpu, wasm or auto, got "cuda"/],
    [["--grid", '{"topP":[0.01,5]}'], /--grid point \{"topP":5\}: key topP: expected a number/],
    // Found after the whole search, before: a floor that is no number.
    [["--locality-floor", "ninety"], /--locality-floor must be a number/],
    [["--locality-floor", ""], /--locality-floor must be a number/],
  ];
  for (const [args, re] of cases) {
    const r = await tune(...args);
    equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    equal(re.test(r.err), true, `${args.join(" ")}: ${r.err}`);
    // Refused before any trial: one error line, no usage text, nothing run.
    equal(/trial t1/.test(r.err), false, `${args.join(" ")}: ${r.err}`);
  }
  // A missing model folder is the work's failure (exit 1, as the edit command says it), named
  // before the first trial even with both splits given.
  const missing = await tune(
    ...["--model", "tests/fixtures/no-such-model", "--requests", "data/requests/dev.json"],
    ...["--anchors", "data/requests/anchors.json"],
  );
  equal(missing.code, 1, missing.err);
  equal(
    /^error: --model tests\/fixtures\/no-such-model: no such folder$/m.test(missing.err),
    true,
  );
});

Deno.test("tune.ts --out: a file or a folder of the user's is refused before any trial writes", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kne-tune-out-" });
  const tune = async (out: string) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-A", "bench/tune.ts", "--method", "kne", "--grid", '{"steps":[2]}'],
        ...[...TINY, "--n", "1", "--out", out],
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
    }).output();
    return { code: r.code, err: text(r.stderr) };
  };
  try {
    await Deno.writeTextFile(`${tmp}/afile`, "mine");
    await Deno.mkdir(`${tmp}/user`);
    await Deno.writeTextFile(`${tmp}/user/notes.txt`, "mine");
    // Another command's output, such as a trained model's folder (the shipped ones are marked).
    await Deno.mkdir(`${tmp}/trained`);
    await Deno.writeTextFile(`${tmp}/trained/.kne-output`, '{"tool":"kne","kind":"train"}\n');
    const cases: [string, RegExp][] = [
      // It ended with an uncaught NotADirectory and its stack trace.
      [`${tmp}/afile`, /^error: --out .*afile is a file, not a folder; choose another --out$/],
      [`${tmp}/afile/sub`, /^error: --out .*afile\/sub: .*is a file, not a folder$/],
      // It wrote t1/hparams.json and t1/inputs.json among the user's files.
      [`${tmp}/user`, /^error: --out .*user is a folder this tool did not write \(no \.kne-output/],
      // It wrote its trials into the model's folder and marked it as a search's.
      [`${tmp}/trained`, /^error: --out .*trained holds a trained model \(deno task train\)/],
    ];
    for (const [out, re] of cases) {
      const r = await tune(out);
      equal(r.code, 2, `${out}: ${r.err}`);
      equal(r.err.trim().split("\n").length, 1, `${out}: ${r.err}`);
      equal(re.test(r.err.trim()), true, `${out}: ${r.err}`);
    }
    equal(await Deno.readTextFile(`${tmp}/afile`), "mine");
    deepEqual([...Deno.readDirSync(`${tmp}/user`)].map((e) => e.name), ["notes.txt"]);
    deepEqual([...Deno.readDirSync(`${tmp}/trained`)].map((e) => e.name), [".kne-output"]);
    equal(await Deno.readTextFile(`${tmp}/trained/.kne-output`), '{"tool":"kne","kind":"train"}\n');
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a failed trial: the edit command's error line, --resume only where it helps", () => {
  const status = (code: number, signal: Deno.Signal | null = null) => ({
    success: code === 0,
    code,
    signal,
  });
  const usage = ['error: --n must be a positive integer, got "0"', "", "Usage: deno task edit"];
  equal(childError(usage), '--n must be a positive integer, got "0"');
  equal(childError(["backend: wasm", "model: x"]), null);
  // A refused argument or input would fail again: no --resume, the real error line.
  const bad = trialFailure("t2", status(2), usage, 0);
  equal(bad.resumable, false);
  equal(bad.message, 'trial t2 failed: --n must be a positive integer, got "0"');
  const unbuilt = ["error: cannot read /r/build/kernels.wasm (No such file); run `deno task ...`"];
  equal(trialFailure("t1", status(1), unbuilt, 0).resumable, false);
  // Cut off mid-run (killed, interrupted) or failed after saving records: --resume continues it.
  const killed = trialFailure("t1", status(137, "SIGKILL"), ["backend: wasm"], 2);
  equal(killed.resumable, true);
  equal(
    /killed by SIGKILL\n\(2 finished records are saved: rerun with --resume/.test(killed.message),
    true,
  );
  equal(trialFailure("t1", status(130), [], 0).resumable, true);
  const crashed = trialFailure("t1", status(1), ["error: out of memory", "1 finished..."], 1);
  equal(crashed.resumable, true);
  equal(/^trial t1 failed: out of memory\n/.test(crashed.message), true, crashed.message);
  // Nothing said: the last lines of its stderr.
  equal(trialFailure("t1", status(1), ["a", "b", ""], 0).message, "trial t1 failed: a\nb");
});

Deno.test({
  name: "tune.ts --resume keeps finished trials and continues a killed one",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
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
      // The trials' JSON lines, without their seconds (the only figure a rerun may change).
      const trials = text(r.stdout).split("\n").filter((l) => l.startsWith("{"))
        .map((l) => ({ ...JSON.parse(l), secondsPerEditMedian: 0 }));
      return { code: r.code, err: text(r.stderr), trials };
    };
    try {
      const whole = await tune("whole", []);
      equal(whole.code, 0, whole.err);
      equal(whole.trials.length, 2);
      // A progress line per finished record of each trial.
      for (const t of ["t1", "t2"]) {
        for (const k of [1, 2, 3]) {
          equal(new RegExp(`^trial ${t}: record ${k}/3: #${k - 1} `, "m").test(whole.err), true);
        }
      }
      // The first trial's edit command is killed after its second record: the search stops.
      const killed = await tune("resumed", [], { KNE_FAULT_KILL_AFTER: "2" });
      equal(killed.code, 1, killed.err);
      equal(
        /trial t1 failed: the edit command was killed by SIGKILL\n\(2 finished records are saved: rerun with --resume/
          .test(killed.err),
        true,
        killed.err,
      );
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
      // A trial that fails before any record (here: a model folder with no config.json; a missing
      // folder is refused before the first trial) would fail again: its error line, no --resume.
      await Deno.mkdir(`${tmp}/empty-model`);
      const noModel = await tune("nomodel", ["--model", `${tmp}/empty-model`]);
      equal(noModel.code, 1, noModel.err);
      equal(
        /^error: trial t1 failed: .*empty-model\/config\.json: cannot read/m.test(noModel.err),
        true,
        noModel.err,
      );
      equal(/--resume/.test(noModel.err), false, noModel.err);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

/** Lines of a child's stream as they come, and a wait for the first that matches. */
function lineReader(stream: ReadableStream<Uint8Array>) {
  const lines: string[] = [];
  let rest = "";
  let wake = () => {};
  const done = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
      wake();
    }
    if (rest) lines.push(rest);
    wake();
  })();
  let ended = false;
  done.then(() => ended = true);
  return {
    lines,
    done,
    async waitFor(re: RegExp): Promise<boolean> {
      while (!lines.some((l) => re.test(l))) {
        if (ended) return false;
        await new Promise<void>((r) => wake = r);
      }
      return true;
    },
  };
}

Deno.test({
  name:
    "tune.ts on Ctrl-C: the trial finishes its record, then the search exits 130; --resume at once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "kne-tune-int-" });
    // Records of about a second each (600 steps, no early stop), so the interrupt lands mid-trial.
    const args = [
      ...["run", "-A", "bench/tune.ts", "--method", "kne", "--out", tmp, ...TINY, "--n", "4"],
      ...["--grid", '{"igSteps":[2],"steps":[600],"earlyStopLoss":[0]}'],
    ];
    try {
      const tune = new Deno.Command(Deno.execPath(), {
        args,
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const err = lineReader(tune.stderr);
      equal(await err.waitFor(/^trial t1: record 1\/4: /), true, err.lines.join("\n"));
      // The edit command holds the trial's lock while it runs.
      const lock = `${tmp}/t1/run.lock`;
      const child = Number((await Deno.readTextFile(lock)).trim());
      equal(child > 0 && child !== tune.pid, true, `lock: ${child}`);
      tune.kill("SIGINT");
      const status = await tune.status;
      await err.done;
      const log = err.lines.join("\n");
      equal(status.code, 130, log);
      equal(/^interrupt: the trial finishes its current record/m.test(log), true, log);
      equal(
        /^interrupted: trial t1 stopped after \d+ finished records? .*--resume/m.test(log),
        true,
        log,
      );
      // The search ended after its child: no process is left, nor its lock.
      equal(await Deno.stat(`/proc/${child}`).then(() => true, () => false), false, "child alive");
      equal(await Deno.stat(lock).then(() => true, () => false), false, "lock left");
      const saved = (await Deno.readTextFile(`${tmp}/t1/run.partial/records.jsonl`)).trim();
      equal(saved.split("\n").length >= 1, true);
      // Resumed at once: not refused by the lock, the trial continued and finished.
      const resumed = await new Deno.Command(Deno.execPath(), {
        args: [...args, "--resume"],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
      }).output();
      const rerr = text(resumed.stderr);
      equal(resumed.code, 0, rerr);
      equal(/trial t1: continuing/.test(rerr), true, rerr);
      equal(/^trial t1: record 4\/4: #3 /m.test(rerr), true, rerr);
      equal(/^\{"trial":"t1"/m.test(text(resumed.stdout)), true, text(resumed.stdout));
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "tune.ts in a fresh tree builds the kernels before its first trial, and says so if it cannot",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // A copy of the working tree without build/ (nor the large or generated folders), sharing
    // node_modules/.
    const tmp = await Deno.makeTempDir({ prefix: "kne-tune-fresh-" });
    const skip = new Set([".git", "node_modules", "build", "models", "out", ".tmp", "docs"]);
    const entries = [];
    for await (const e of Deno.readDir(ROOT)) if (!skip.has(e.name)) entries.push(e.name);
    try {
      const cp = await new Deno.Command("cp", { args: ["-r", ...entries, tmp], cwd: ROOT })
        .output();
      equal(cp.code, 0, text(cp.stderr));
      await Deno.symlink(`${ROOT}node_modules`, `${tmp}/node_modules`);
      const tune = async () => {
        const r = await new Deno.Command(Deno.execPath(), {
          args: [
            ...["run", "-A", "bench/tune.ts", "--method", "kne", "--out", `${tmp}/.tmp/t`],
            ...[...TINY, "--n", "1", "--grid", '{"igSteps":[2],"steps":[2]}'],
          ],
          cwd: tmp,
          env: { NO_COLOR: "1" },
        }).output();
        return { code: r.code, err: text(r.stderr), out: text(r.stdout) };
      };
      // build/ cannot be made: the build's failure, not a trial's.
      await Deno.writeTextFile(`${tmp}/build`, "");
      const blocked = await tune();
      equal(blocked.code, 1, blocked.err);
      equal(
        /^error: building the AssemblyScript kernels \(deno run -A scripts\/build-wasm\.ts\) failed: /m
          .test(blocked.err),
        true,
        blocked.err,
      );
      equal(/trial t1/.test(blocked.err), false, blocked.err);
      await Deno.remove(`${tmp}/build`);
      const fresh = await tune();
      equal(fresh.code, 0, fresh.err);
      equal(/^built build\/kernels\.wasm/m.test(fresh.err), true, fresh.err);
      equal((await Deno.stat(`${tmp}/build/kernels.wasm`)).isFile, true);
      equal(/^\{"trial":"t1"/m.test(fresh.out), true, fresh.out);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
