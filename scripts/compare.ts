// `deno task compare`: runs several editing methods (KNE and the baselines) on the same requests
// in single mode, each into OUT/<method>/ (the same outputs as `deno task edit`), then writes the
// side-by-side table OUT/comparison.md, its data OUT/comparison.json and a grouped bar chart
// OUT/comparison.svg; an interrupted comparison's are OUT/comparison.interrupted.* instead
// (src/pipeline/comparison-files.ts). `--help` lists the options.

import { listenForInterrupt } from "../src/cli/interrupt.ts";
import { printable } from "../src/cli/message.ts";
import { createBackend, parseBackendChoice } from "../engine/select.ts";
import { DEFAULT_MODEL, defaultAnchors, noModelFolder, splitsOf } from "../src/pipeline/models.ts";
import { alreadyAnsweredNote, recordLine, type RunResult } from "../src/pipeline/records.ts";
import { runEdits } from "../src/pipeline/run.ts";
import { checkManifest, runManifest, sameRun } from "../src/pipeline/manifest.ts";
import { exists } from "../src/io/files.ts";
import { exitWithError } from "../src/cli/fail.ts";
import { notOneOf, parseFlags, wholeNumber } from "../src/cli/flags.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import {
  checkOutputFolder,
  GuardError,
  lockOutput,
  markOutput,
  OutputExists,
} from "../src/pipeline/output-guard.ts";
import {
  COMPARISON_KIND,
  removeOtherMethods,
  removeTables,
  unfinishedComparison,
  writeTables,
} from "../src/pipeline/comparison-files.ts";
import { faultInjection, interruptInjection } from "../src/pipeline/faults.ts";
import { FORMAT_NAMES, isRequestFormat, loadRequests, parseHparams } from "../src/io/requests.ts";
import type { Hparams } from "../src/edit/method.ts";
import { disposeModel } from "../src/model/build.ts";
import { shippedHparams } from "../src/pipeline/hparams.ts";
import {
  checkInputs,
  emptyAnchorPoolNote,
  loadAnchorPool,
  missingAnchorFile,
} from "../src/pipeline/inputs.ts";
import { loadModel } from "../src/pipeline/load.ts";
import type { Intervals } from "../src/eval/bootstrap.ts";
import { METHOD_LABELS, methodByName, METHODS } from "../src/methods/registry.ts";
import {
  type ComparisonMeta,
  type ComparisonRow,
  comparisonTerminal,
  failedRow,
} from "../src/report/comparison.ts";

const DEFAULT_METHODS = ["kne", "ft-l", "ft-m", "kn", "rome", "memit"];

const HELP = `Usage: deno task compare [options]

  --model DIR          Hugging Face model folder (default ${DEFAULT_MODEL})
  --requests FILE      request file (default: the model's test split,
                       ${splitsOf(DEFAULT_MODEL).test} for the default model)
  --format F           its shape: auto | knowedit | counterfact | zsre | mquake (default auto:
                       told by the first record's keys)
  --methods LIST       comma-separated, from ${[...METHODS.keys()].join(", ")}
                       (default ${DEFAULT_METHODS.join(",")})
  --n N                the first N requests of the file (default 100)
  --hparams-dir DIR    per-method hyperparameters DIR/<method>.json (methods without a file
                       use the file shipped for the model, hparams/<method>/<model>.json, or
                       their defaults)
  --cov-texts FILE     texts for ROME/MEMIT's key statistics (.txt, one per line, or a .json
                       array of strings); default: the template fact corpus (kne-facts'
                       training text) when the tokenizer encodes it, else the requests' prompts
  --anchors FILE       anchor pool for locality terms (KNE's KL term), as for deno task edit
                       (default: the model's anchor split,
                       ${defaultAnchors(DEFAULT_MODEL)} for the default model;
                       none when it is the --requests file)
  --backend B          webgpu | wasm | auto (default auto)
  --out DIR            output folder (default out/compare-<time>)
  --force              replace existing outputs (method folders of methods not in this run are
                       removed)
  --resume             reuse finished methods in OUT and continue an interrupted one
  --no-fluency         skip the fluency metric (sampling)
  --seed N             seed for sampling (default 0)
`;

function fail(msg: string, code = 2): never {
  exitWithError(msg, code);
}

/** The comparison row of a finished run's metrics.json. */
function rowOf(
  method: string,
  out: string,
  m: {
    mean: RunResult["summary"];
    ci95?: Intervals;
    records: number;
    secondsPerEdit: { mean: number };
    paramsChanged: { mean: number; fractionMean: number };
    rolledBack: number[];
  },
): ComparisonRow {
  return {
    method,
    label: METHOD_LABELS[method] ?? method,
    summary: m.mean,
    ci95: m.ci95 ?? {},
    records: m.records,
    msPerEdit: 1000 * m.secondsPerEdit.mean,
    paramsChanged: m.paramsChanged.mean,
    paramsFraction: m.paramsChanged.fractionMean,
    rolledBack: m.rolledBack.length,
    out,
  };
}

/** The command line, parsed and checked: a bad flag or value stops here (exit 2). */
async function readArgs() {
  const args = parseFlags({
    model: { type: "string", default: DEFAULT_MODEL },
    requests: { type: "string" },
    format: { type: "string", default: "auto" },
    methods: { type: "string", default: DEFAULT_METHODS.join(",") },
    n: { type: "string" },
    "hparams-dir": { type: "string" },
    "cov-texts": { type: "string" },
    anchors: { type: "string" },
    backend: { type: "string", default: "auto" },
    out: { type: "string" },
    force: { type: "boolean", default: false },
    resume: { type: "boolean", default: false },
    "no-fluency": { type: "boolean", default: false },
    seed: { type: "string", default: "0" },
  }, HELP);
  // Whole numbers as the edit command reads them (no "1e3", "0x10" or "12.0").
  const seed = wholeNumber(args.seed!);
  if (seed === null) fail(`--seed must be an integer, got "${args.seed}"`);
  let backend;
  try {
    backend = parseBackendChoice(args.backend!);
  } catch (e) {
    fail((e as Error).message);
  }
  const format = args.format!;
  if (!isRequestFormat(format)) fail(`--format must be ${FORMAT_NAMES}, got "${format}"`);
  // No default in the flag table: as in the edit command, only an --n given on the command line
  // beyond the file gets a note.
  const n = wholeNumber(args.n ?? "100");
  if (n === null || n < 1) fail(`--n must be a positive integer, got "${args.n}"`);
  if (args.resume && args.out === undefined) {
    fail("--resume needs --out, the folder of the interrupted comparison");
  }
  const names = args.methods!.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length === 0) fail("--methods is empty");
  if (new Set(names).size !== names.length) fail(`--methods names a method twice`);
  const methods = names.map((name) =>
    METHODS.has(name) ? methodByName(name) : fail(notOneOf("methods", name, METHODS.keys()))
  );
  if (args.anchors !== undefined) {
    const missing = await missingAnchorFile(args.anchors);
    if (missing) fail(missing, 1);
  }
  const covTexts = args["cov-texts"];
  if (covTexts && !(await exists(covTexts))) fail(`--cov-texts ${covTexts}: no such file`);
  const hpDir = args["hparams-dir"];
  if (hpDir && !(await Deno.stat(hpDir).then((s) => s.isDirectory, () => false))) {
    fail(`--hparams-dir ${hpDir}: no such folder`);
  }
  const modelDir = args.model!.replace(/\/+$/, "");
  await Deno.realPath(modelDir).catch(() => fail(noModelFolder(modelDir), 1));
  const out = (args.out ??
    `out/compare-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`).replace(
      /\/+$/,
      "",
    );
  return {
    methods,
    modelDir,
    requests: args.requests ?? splitsOf(modelDir).test,
    anchorFile: args.anchors ?? defaultAnchors(modelDir),
    anchorsNamed: args.anchors !== undefined,
    format,
    n,
    nGiven: args.n !== undefined,
    hpDir,
    covTexts,
    backend,
    out,
    force: args.force!,
    resume: args.resume!,
    fluency: !args["no-fluency"],
    seed,
  };
}

type Method = ReturnType<typeof methodByName>;

/**
 * Each method's hyperparameters: DIR/<method>.json, else the file shipped for this model, else
 * the defaults; --cov-texts for the methods that read key statistics.
 */
async function methodHparams(
  methods: readonly Method[],
  modelDir: string,
  hpDir: string | undefined,
  covTexts: string | undefined,
): Promise<Map<string, Hparams>> {
  const hparams = new Map<string, Hparams>();
  for (const m of methods) {
    let hp = m.defaults;
    const file = hpDir ? `${hpDir}/${m.name}.json` : null;
    if (file && (await exists(file))) {
      hp = parseHparams(await Deno.readTextFile(file), m.defaults, m.schema, file);
    } else {
      hp = (await shippedHparams(m, modelDir))?.hparams ?? hp;
    }
    if (covTexts && "covTexts" in m.schema) hp = { ...hp, covTexts };
    hparams.set(m.name, hp);
  }
  return hparams;
}

/** The comparison's Markdown table on the terminal, and the files it was written to. */
function printComparison(
  rows: readonly ComparisonRow[],
  out: string,
  files: { md: string; json: string; svg: string },
): void {
  console.log(`\n${comparisonTerminal(rows)}`);
  console.log(`\noutputs: ${out}/${files.md}, ${files.json}, ${files.svg}`);
}

async function main() {
  const a = await readArgs();
  const { methods, modelDir, out } = a;
  const hparams = await methodHparams(methods, modelDir, a.hpDir, a.covTexts);
  try {
    // The edit command's output rules (src/pipeline/output-guard.ts): OUT is not, holds not and
    // lies not inside the model folder, holds no input; an existing OUT is written over (--force) or
    // continued (--resume) only when this tool wrote it; it is locked while the methods run.
    await checkOutputFolder(out, {
      model: modelDir,
      inputs: [a.requests, a.anchorFile, a.covTexts, a.hpDir].filter((f) => f !== undefined),
      force: a.force || a.resume,
      kind: COMPARISON_KIND,
    });
    await lockOutput(out);
  } catch (e) {
    if (e instanceof OutputExists && await unfinishedComparison(out)) {
      fail(
        `${out} holds an interrupted comparison; pass --resume to continue it, --force to start ` +
          `it over, or choose another --out`,
      );
    }
    if (e instanceof GuardError) fail(e.message);
    throw e;
  }
  const all = await loadRequests(a.requests, {
    format: a.format,
    onNote: (note) => console.error(`note: ${printable(note)}`),
  });
  // As the edit command says it: an --n beyond the file edits what there is.
  if (a.nGiven && a.n > all.length) {
    console.error(`note: --n ${a.n}: ${a.requests} holds ${all.length}; all are edited`);
  }
  const requests = all.slice(0, a.n);

  // The edit command's checks, before any weight is read (src/pipeline/inputs.ts).
  const { tokenizer, targets } = await checkInputs(modelDir, requests, a.requests);

  const backend = await createBackend(a.backend);
  console.error(`backend: ${backend.description}`);
  // One f32 model for every method: only KNE steps f32 masters of f16 weights.
  const { model, weights: { storedDtypes } } = await loadModel(modelDir, backend, {
    dtype: "f32",
    tokenizer: false,
  });
  console.error(
    `model: ${modelDir} (${model.config.hfClass}, ${model.config.nLayers} layers, d ${model.config.dModel}); ` +
      `${targets.length} request(s); methods: ${methods.map((m) => m.name).join(", ")}`,
  );
  // The anchor pool, as scripts/edit.ts takes it (src/edit/anchors.ts builds each edit's
  // anchors from it): never the evaluated requests' own file.
  const anchors = await loadAnchorPool(a.anchorFile, a.requests);
  const empty = a.anchorsNamed ? emptyAnchorPoolNote(a.anchorFile, a.requests, anchors) : null;
  if (empty) console.error(empty);
  const settingsOf = (method: Method) => ({
    method,
    mode: "single" as const,
    model,
    modelDir,
    storedDtypes,
    hparams: hparams.get(method.name)!,
    fluency: a.fluency,
    seed: a.seed,
    targets,
    anchors,
  });
  if (a.resume) {
    // An interrupted method continues only with the settings it was started with. Refused here,
    // before anything runs: found at its turn, the methods before it had been run again with the
    // new settings (their results replaced) and then it failed.
    for (const method of methods) {
      const dir = `${out}/${method.name}`;
      if (!(await exists(`${dir}.partial`))) continue;
      const manifest = await runManifest(settingsOf(method));
      if ((await exists(`${dir}/metrics.json`)) && (await sameRun(dir, manifest))) continue;
      try {
        await checkManifest(`${dir}.partial`, manifest, true);
      } catch (e) {
        if (e instanceof GuardError) fail(e.message);
        throw e;
      }
    }
  }
  await Deno.mkdir(out, { recursive: true });
  await markOutput(out, COMPARISON_KIND);
  // The final tables appear only once this run has run every method: an earlier run's go first.
  await removeTables(out);
  if (a.force && !a.resume) {
    // A replaced comparison keeps no method folder that is not part of this one.
    const kept = new Set(methods.map((m) => m.name));
    for (const p of await removeOtherMethods(out, METHODS.keys(), kept)) {
      console.error(`removed ${p} (not one of this comparison's methods)`);
    }
  }

  const interrupt = listenForInterrupt("finishing the current record, then saving");
  // Test hooks (src/pipeline/faults.ts): a Ctrl-C or a SIGKILL after the N-th record run.
  const faults = [interruptInjection(interrupt), faultInjection(backend)];
  let finished = 0;
  const noted = new Set<number>();
  const rows: ComparisonRow[] = [];
  let interrupted = false;
  for (const method of methods) {
    if (interrupt.requested()) {
      interrupted = true;
      break;
    }
    const dir = `${out}/${method.name}`;
    const metricsFile = `${dir}/metrics.json`;
    const settings = settingsOf(method);
    // A method finished earlier is reused only when its run.json says it ran with the same
    // settings, requests, anchors and model files as this one (src/pipeline/manifest.ts).
    if (a.resume && (await exists(metricsFile))) {
      if (await sameRun(dir, await runManifest(settings))) {
        console.error(`[${method.name}] done earlier: ${metricsFile}`);
        rows.push(rowOf(method.name, dir, JSON.parse(await Deno.readTextFile(metricsFile))));
        continue;
      }
      console.error(`[${method.name}] ${dir} was made with other settings or inputs: run again`);
    }
    console.error(`[${method.name}] ${method.description}`);
    try {
      const r = await runEdits({
        ...settings,
        model,
        tokenizer,
        out: dir,
        force: a.force || a.resume,
        resume: a.resume,
        interrupted: interrupt.requested,
        onRecord: (rec) => {
          console.error(`[${method.name}] ${recordLine(rec)}`);
          // Every method starts from the same model: a request is noted once, at its first edit.
          const note = noted.has(rec.index) ? null : alreadyAnsweredNote(rec);
          if (note) {
            noted.add(rec.index);
            console.error(note);
          }
          finished++;
          for (const f of faults) f(finished);
        },
      });
      if (r.interrupted) {
        interrupted = true;
        break;
      }
      rows.push(rowOf(method.name, dir, JSON.parse(await Deno.readTextFile(metricsFile))));
    } catch (e) {
      const msg = (e as Error).message;
      console.error(`[${method.name}] failed: ${msg}`);
      // Its records so far stay in OUT/<method>.partial (--resume continues them); OUT/<method>
      // is not its output.
      const left = await exists(`${dir}.partial`) ? `${dir}.partial` : null;
      rows.push(failedRow(method.name, METHOD_LABELS[method.name] ?? method.name, left, msg));
    }
  }
  interrupt.release();
  disposeModel(model);
  await backend.dispose();

  const meta: ComparisonMeta = {
    model: modelDir,
    requests: a.requests,
    n: targets.length,
    backend: backend.name,
  };
  const files = await writeTables(
    out,
    rows,
    meta,
    interrupted ? { done: rows.length, of: methods.length } : undefined,
  );
  printComparison(rows, out, files);
  if (interrupted) {
    console.error(`interrupted: rerun with --resume --out ${out} to continue`);
    Deno.exit(130);
  }
  if (rows.some((r) => r.error)) Deno.exit(1);
}

await runCommand(main);
