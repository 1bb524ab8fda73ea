// Hyperparameter search for one editing method on the dev split: runs `scripts/edit.ts` once per
// point of a grid (the cartesian product of the values given per key), reads each run's
// metrics.json, and picks a trial by the rule KNE's defaults were chosen by: among the trials that
// edit (Edit Succ. at least 50) and keep Locality at the floor (90, the KNE issue's target), the
// best mean of Edit Succ. and Generalization; where no trial qualifies, the best mean of Edit
// Succ., Generalization and Locality (ties: fewer parameters changed). Without the Edit Succ.
// condition a setting that changes nothing (ROME at the last layer, whose subject-position update
// cannot reach the prediction) would pass on its untouched Locality of 100. Tuning reads nothing
// of the test split: the anchor pool is the model's own anchor split (kne-facts-base:
// data/requests/base-anchors.json), never a test file (refused), so neither a dev probe nor a test
// prompt is ever an anchor. Prints one JSON line per trial as it finishes and a Markdown table at
// the end; per-trial outputs stay under OUT/<trial>/, with the inputs they were run with. With
// --resume a search goes on where it stopped: a trial finished with the same inputs is read back,
// one interrupted is continued (the edit command's --resume), any other is run afresh.
//
// It builds the AssemblyScript kernels first (scripts/build-wasm.ts, as the deno tasks' build:wasm
// dependency does; a no-op when up to date), checks its flags by the edit command's rules before
// the first trial, prints a line per record a trial finishes, and on a failed trial shows the edit
// command's error line, suggesting --resume only where it can help (a trial cut off mid-run).
// Ctrl-C is forwarded to the running trial, which finishes its current record and saves; the
// search exits 130 after it, so an immediate --resume goes on from there. The child processes and
// signals are bench/tune/process.ts's, the reading of a trial's output bench/tune/trial-output.ts's.
//
// --out is checked before the first trial (bench/tune/out-folder.ts): a file, or a folder of the
// user's with files in it, is refused (exit 2); a search's own folder carries the .kne-output marker.
//
//   deno run -A bench/tune.ts --method ft-l --grid '{"lr":[0.005,0.01],"layer":[1,2]}'

import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { exitWithError } from "../src/cli/fail.ts";
import { exists } from "../src/io/files.ts";
import { parseHparams } from "../src/io/requests.ts";
import { notOneOf, parseFlags, wholeNumber } from "../src/cli/flags.ts";
import { parseEditArgs, UsageError } from "../src/pipeline/args.ts";
import { methodByName, METHODS } from "../src/methods/registry.ts";
import { buildKernels, runChild, Signals } from "./tune/process.ts";
import { claimSearchFolder } from "./tune/out-folder.ts";
import { GuardError } from "../src/pipeline/output-guard.ts";
import { progressPrinter, savedRecords, trialFailure } from "./tune/trial-output.ts";
import { DEFAULT_MODEL, noModelFolder, SHIPPED_SPLITS } from "../src/pipeline/models.ts";

const HELP = `Usage: deno run -A bench/tune.ts --method NAME --grid JSON [options]

  --method NAME     editing method (as for deno task edit)
  --grid JSON       {"key": [values...], ...}: every combination is one trial
  --model DIR       the model (default: the edit command's)
  --requests FILE   scored requests (default: the model's dev split)
  --anchors FILE    anchor pool (default: the model's anchor split; required for a model
                    without one; a test split is refused)
  --n N             the first N requests (default 50)
  --mode M          single | batch | sequential (default single), passed to the edit command
  --backend B       wasm | webgpu | auto (default wasm)
  --out DIR         per-trial outputs (default .tmp/tune-<method>)
  --locality-floor X  Locality a trial needs to be chosen on Edit Succ. and Generalization
                    alone (default 90)
  --resume          reuse the trials in OUT finished with the same inputs and continue an
                    interrupted one (without it every trial runs afresh)
`;

type Grid = Record<string, unknown[]>;

/** The test splits, which tuning may not read. */
const TEST_SPLITS = Object.values(SHIPPED_SPLITS).map((s) => s.test);

/** Whether two paths name the same existing file (links resolved). */
async function sameFile(a: string, b: string): Promise<boolean> {
  const real = (p: string) => Deno.realPath(p).catch(() => resolve(p));
  return (await real(a)) === (await real(b));
}

interface Trial {
  trial: string;
  hparams: Record<string, unknown>;
  editSucc: number;
  /** null: the requests have no such probes (the rule then counts it as 0 for every trial). */
  generalization: number | null;
  portability: number | null;
  locality: number | null;
  paramsChangedPct: number;
  secondsPerEditMedian: number;
}

/** The chosen trial (see the header for the rule). */
export function chooseTrial<T extends Omit<Trial, "trial" | "hparams">>(
  trials: readonly T[],
  localityFloor: number,
): T {
  const passing = trials.filter((t) => (t.locality ?? 0) >= localityFloor && t.editSucc >= 50);
  const score = (t: T) =>
    passing.length
      ? (t.editSucc + (t.generalization ?? 0)) / 2
      : (t.editSucc + (t.generalization ?? 0) + (t.locality ?? 0)) / 3;
  return [...(passing.length ? passing : trials)].sort((x, y) =>
    score(y) - score(x) || x.paramsChangedPct - y.paramsChangedPct
  )[0];
}

function fail(msg: string): never {
  exitWithError(msg, 2);
}

/** Every combination of the grid's values, in key order. */
export function gridPoints(grid: Grid): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    if (!Array.isArray(values) || values.length === 0) {
      fail(`--grid: "${key}" must be a non-empty array of values`);
    }
    points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  }
  return points;
}

interface SearchInputs {
  method: string;
  model?: string;
  requests: string;
  anchors: string;
  n: string;
  mode: string;
  backend: string;
}

const EDIT_SCRIPT = fileURLToPath(new URL("../scripts/edit.ts", import.meta.url));

/** The edit command's arguments for one trial (its outputs in `dir`/run). */
function editArgs(a: SearchInputs, hpFile: string, resume: boolean, dir: string): string[] {
  return [
    ...(a.model ? ["--model", a.model] : []),
    ...["--method", a.method, "--hparams", hpFile, "--requests", a.requests],
    ...["--anchors", a.anchors, "--n", a.n, "--mode", a.mode, "--backend", a.backend],
    ...["--no-fluency", resume ? "--resume" : "--force", "--out", `${dir}/run`],
  ];
}

/**
 * Trial `name` of the search, its outputs in OUT/<name>/. With `resume`, a trial finished with
 * the same inputs (OUT/<name>/inputs.json) is read back and one interrupted is continued.
 */
async function runTrial(
  name: string,
  hparams: Record<string, unknown>,
  a: SearchInputs & { out: string; resume: boolean },
  signals: Signals,
): Promise<Trial> {
  const dir = `${a.out}/${name}`;
  const inputs = JSON.stringify({
    hparams,
    method: a.method,
    model: a.model,
    requests: a.requests,
    anchors: a.anchors,
    n: a.n,
    mode: a.mode,
    backend: a.backend,
  });
  const same = a.resume &&
    (await Deno.readTextFile(`${dir}/inputs.json`).catch(() => null)) === inputs;
  if (same && await exists(`${dir}/run/metrics.json`)) {
    console.error(`trial ${name}: finished earlier with the same inputs (${dir}/run)`);
  } else {
    await buildKernels(signals);
    await Deno.mkdir(dir, { recursive: true });
    const hpFile = `${dir}/hparams.json`;
    await Deno.writeTextFile(hpFile, JSON.stringify(hparams));
    await Deno.writeTextFile(`${dir}/inputs.json`, inputs);
    const resume = same && await exists(`${dir}/run.partial`);
    console.error(
      `trial ${name}: ${resume ? `continuing ${dir}/run.partial` : "running"} ${
        JSON.stringify(hparams)
      }`,
    );
    const { status, stderr } = await runChild(
      EDIT_SCRIPT,
      editArgs(a, hpFile, resume, dir),
      signals,
      true,
      progressPrinter(name),
    );
    // Stopped by the forwarded Ctrl-C (a trial that finished meanwhile is kept: the search stops
    // before the next one).
    if (signals.interrupts > 0 && (status.code === 130 || status.signal === "SIGINT")) {
      const n = await savedRecords(dir);
      console.error(
        `interrupted: trial ${name} stopped after ${n} finished record${n === 1 ? "" : "s"} ` +
          `(${dir}/run.partial); rerun the same command with --resume to continue it`,
      );
      Deno.exit(130);
    }
    if (!status.success) {
      // The work failed (exit 1), as in the other commands; a bad flag is refused earlier (2).
      exitWithError(trialFailure(name, status, stderr, await savedRecords(dir)).message, 1);
    }
  }
  const m = JSON.parse(await Deno.readTextFile(`${dir}/run/metrics.json`));
  const s = m.mean;
  return {
    trial: name,
    hparams,
    editSucc: s.editSucc,
    generalization: s.generalization ?? null,
    portability: s.portability ?? null,
    locality: s.locality ?? null,
    paramsChangedPct: 100 * m.paramsChanged.fractionMean,
    secondsPerEditMedian: m.secondsPerEdit.median,
  };
}

if (import.meta.main) {
  const values = parseFlags({
    method: { type: "string" },
    grid: { type: "string" },
    model: { type: "string" },
    requests: { type: "string" },
    anchors: { type: "string" },
    n: { type: "string", default: "50" },
    mode: { type: "string", default: "single" },
    backend: { type: "string", default: "wasm" },
    out: { type: "string" },
    "locality-floor": { type: "string", default: "90" },
    resume: { type: "boolean", default: false },
  }, HELP);
  if (!values.method || !values.grid) exitWithError("--method and --grid are required", 2, HELP);
  if (!METHODS.has(values.method)) fail(notOneOf("method", values.method, METHODS.keys()));
  const method = methodByName(values.method);
  let grid: Grid;
  try {
    grid = JSON.parse(values.grid);
  } catch (e) {
    fail(`--grid is not JSON: ${(e as Error).message}`);
  }
  // Every trial would fail on a setting the method does not have, or on a value that is no list.
  if (typeof grid !== "object" || grid === null || Array.isArray(grid)) {
    fail(`--grid must be a JSON object of setting -> list of values`);
  }
  for (const [key, list] of Object.entries(grid)) {
    if (!(key in method.defaults)) {
      fail(
        `--grid: ${method.name} has no setting "${key}" (${
          Object.keys(method.defaults).join(", ")
        })`,
      );
    }
    if (!Array.isArray(list) || list.length === 0) {
      fail(`--grid: "${key}" must be a non-empty list`);
    }
  }
  // Numbers are read as the edit command reads them (wholeNumber: "0", "abc", "1e3", "5.0" are no
  // count), here once instead of failing every trial.
  const n = wholeNumber(values.n);
  if (n === null || n < 1) fail(`--n must be a positive integer, got "${values.n}"`);
  const floorText = values["locality-floor"];
  const floor = Number(floorText);
  if (floorText.trim() === "" || !Number.isFinite(floor)) {
    fail(`--locality-floor must be a number, got "${floorText}"`);
  }
  const points = gridPoints(grid);
  for (const hp of points) {
    try {
      parseHparams(hp, method.defaults, method.schema, `--grid point ${JSON.stringify(hp)}`);
    } catch (e) {
      fail((e as Error).message);
    }
  }
  // A missing folder is named before the splits are looked up by its name, not after a trial.
  const modelDir = values.model ?? DEFAULT_MODEL;
  if (!(await Deno.stat(modelDir).then((i) => i.isDirectory, () => false))) {
    exitWithError(noModelFolder(modelDir), 1);
  }
  const splits = SHIPPED_SPLITS[basename(resolve(modelDir))];
  const requests = values.requests ?? splits?.dev;
  const anchors = values.anchors ?? splits?.anchors;
  if (!requests) fail("--requests is required for this model (it has no known dev split)");
  if (!anchors) {
    fail("--anchors is required for this model (it has no anchor split; never its test split)");
  }
  for (const test of TEST_SPLITS) {
    for (const [flag, file] of [["--anchors", anchors], ["--requests", requests]]) {
      if (await sameFile(file, test)) {
        fail(`${flag} ${file} is the test split ${test}: tuning must read nothing of it`);
      }
    }
  }
  if (await sameFile(anchors, requests)) fail("--anchors is the --requests file (no anchors)");
  for (const [flag, file] of [["--anchors", anchors], ["--requests", requests]]) {
    if (!(await Deno.stat(file).then((i) => i.isFile, () => false))) {
      fail(
        `${flag} ${file}: no such file${
          flag === "--anchors" ? " (an edit would run without anchors)" : ""
        }`,
      );
    }
  }
  const a = {
    method: values.method,
    model: values.model,
    requests,
    anchors,
    n: values.n,
    mode: values.mode,
    backend: values.backend,
    out: values.out ?? `.tmp/tune-${values.method}`,
    resume: values.resume === true,
  };
  // The rest of a trial's command line (--mode, --backend, --model...) by the edit command's own
  // rules, so that a bad flag stops the search before its first trial.
  try {
    parseEditArgs(editArgs(a, `${a.out}/t1/hparams.json`, false, `${a.out}/t1`));
  } catch (e) {
    if (e instanceof UsageError) fail(e.message);
    throw e;
  }
  // OUT before any trial writes into it: a file, or a folder of the user's with files in it, is
  // refused; a new or empty folder, or one of an earlier search, is marked as the search's.
  try {
    await claimSearchFolder(a.out, modelDir);
  } catch (e) {
    if (e instanceof GuardError) fail(e.message);
    throw e;
  }
  const signals = new Signals();
  const trials: Trial[] = [];
  for (const [i, hp] of points.entries()) {
    if (signals.interrupts > 0) {
      console.error(
        `interrupted: the search stopped before trial t${i + 1}; rerun the same command with ` +
          `--resume to continue it`,
      );
      Deno.exit(130);
    }
    const t = await runTrial(`t${i + 1}`, hp, a, signals);
    trials.push(t);
    console.log(JSON.stringify(t));
  }
  const best = chooseTrial(trials, floor);
  const f = (x: number | null) => x === null ? "n/a" : x.toFixed(1);
  console.log(
    `\n| trial | hparams | Edit Succ | Gen. | Port. | Locality | params % | s/edit |`,
  );
  console.log(`| --- | --- | --: | --: | --: | --: | --: | --: |`);
  for (const t of trials) {
    console.log(
      `| ${t.trial}${t === best ? " (chosen)" : ""} | \`${JSON.stringify(t.hparams)}\` | ${
        f(t.editSucc)
      } | ${f(t.generalization)} | ${f(t.portability)} | ${f(t.locality)} | ${
        t.paramsChangedPct.toFixed(2)
      } | ${t.secondsPerEditMedian.toFixed(2)} |`,
    );
  }
}
