// `deno task edit`: edits facts in a model with KNE (or a baseline) and reports Edit Succ.,
// Generalization, Portability, Locality and Fluency, before/after completions, the ensemble,
// an attribution picture, the edited checkpoint and a sparse patch. `--help` lists the options.

import { basename, relative, resolve } from "node:path";
import {
  type Backend,
  createBackend,
  type EditRequest,
  editWork,
  methodByName,
  METRIC_LABELS,
  METRICS,
  parseHparams,
  planEdit,
  validateRequests,
} from "../mod.ts";
import {
  alreadyAnsweredNote,
  checkInputs,
  checkOutputFolder,
  defaultAnchors,
  describeFailure,
  type EditArgs,
  emptyAnchorPoolNote,
  exitWithError,
  faultInjection,
  formatProfile,
  fsError,
  fsReason,
  GuardError,
  HELP,
  listenForInterrupt,
  loadAnchorPool,
  loadModel,
  loadRequests,
  lockOutput,
  missingAnchorFile,
  noModelFolder,
  parseEditArgs,
  present,
  printable,
  Progress,
  readRegularText,
  recordLine,
  type RecordResult,
  runCommand,
  runEdits,
  shippedHparams,
  shippedHparamsFile,
  splitsOf,
  summarizeProfile,
  UsageError,
  weightDtypeFor,
} from "../deno.ts";

function fail(msg: string, code = 2): never {
  exitWithError(msg, code);
}

type Method = ReturnType<typeof methodByName>;
type Result = Awaited<ReturnType<typeof runEdits>>;

/**
 * The hyperparameters: a file given with --hparams, else the one shipped for this model and mode
 * (hparams/<method>/<model>.json), else the method's defaults; and where they came from.
 */
async function resolveHparams(args: EditArgs, method: Method) {
  if (args.hparams) {
    const text = await readRegularText(args.hparams).catch((e) =>
      fail(`cannot read ${args.hparams}: ${fsReason(e)}`, 1)
    );
    return {
      hparams: parseHparams(text, method.defaults, method.schema, args.hparams),
      from: args.hparams,
    };
  }
  const shipped = await shippedHparams(method, args.model, undefined, args.mode);
  if (shipped) return { hparams: shipped.hparams, from: relative(Deno.cwd(), shipped.file) };
  // A copy of a shipped model under another folder name lands here too: say so, since the
  // defaults were tuned on no model and may edit it far worse. Not for a folder that is no model
  // (no config.json): its own error follows, and the note would only come before it.
  if (await present(`${args.model}/config.json`)) {
    console.error(
      `note: no hyperparameter file ships for the model folder "${
        basename(resolve(args.model))
      }" ` +
        `(${
          relative(Deno.cwd(), shippedHparamsFile(method.name, args.model))
        }); ${method.name}'s ` +
        `built-in defaults, tuned on no model, are used: pass --hparams FILE to choose`,
    );
  }
  return { hparams: method.defaults, from: "built-in defaults" };
}

/**
 * The requests: --prompt/--target, else a file; with neither, the demo ("The capital of France
 * is" -> "Rome", with its probes), or with --n only the first N of the model's test split.
 */
async function resolveRequests(
  args: EditArgs,
): Promise<{ requests: EditRequest[]; source: string }> {
  let requests: EditRequest[];
  let source: string;
  // White space ending a prompt is removed, saying so (src/io/formats/trailing-space.ts).
  const onNote = (note: string) => console.error(`note: ${printable(note)}`);
  if (args.prompt !== undefined && args.target !== undefined) {
    source = "command line";
    requests = validateRequests(
      [{ subject: args.subject ?? args.prompt, prompt: args.prompt, target_new: args.target }],
      source,
      { onNote },
    );
  } else {
    const splits = splitsOf(args.model);
    source = args.requests ?? (args.n === undefined ? splits.demo : splits.test);
    requests = await loadRequests(source, { format: args.format, onNote });
  }
  if (args.n !== undefined && args.n > requests.length) {
    console.error(`note: --n ${args.n}: ${source} holds ${requests.length}; all are edited`);
  }
  if (args.n !== undefined) requests = requests.slice(0, args.n);
  if (requests.length === 0) fail(`${source} holds no requests`, 1);
  return { requests, source };
}

/**
 * Says which requests' prompts do not contain their subject: ROME and MEMIT edit at the subject's
 * last token, and for these fall back to the prompt's last token.
 */
function warnSubjectsMissing(requests: readonly EditRequest[], source: string): void {
  const missing = requests.filter((r) => !r.prompt.includes(r.subject));
  if (missing.length === 0) return;
  const r = missing[0];
  console.error(
    `warning: ${missing.length} of ${requests.length} request(s) of ${source} have a prompt ` +
      `without their subject (the first: #${r.index}, subject ${JSON.stringify(r.subject)} in ` +
      `${JSON.stringify(r.prompt)}); ROME and MEMIT edit those at the prompt's last token`,
  );
}

/** Refuses an OUT this run may not write (GuardError: exit 2), checked or locked by `check`. */
async function guardOutput<T>(check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (e) {
    if (e instanceof GuardError) fail(e.message);
    throw e;
  }
}

/** The terminal's side of a run: a progress bar per phase and a line per finished record. */
function terminalReport(args: EditArgs, out: string, fault: (finished: number) => void) {
  let bar: Progress | null = null;
  let barKey = "";
  let finished = 0;
  return {
    onProgress: (phase: string, step: number, of: number, loss?: number) => {
      if (barKey !== phase || !bar) {
        bar?.finish();
        // The first report comes after its step: the rate counts the steps after it.
        bar = new Progress(`  ${phase.padEnd(16)}`, of, "step", step);
        barKey = phase;
      }
      bar.update(step, loss !== undefined ? `loss ${loss.toFixed(4)}` : "");
      if (step >= of) barKey = "";
    },
    onResumed: (kept: number) =>
      console.error(
        `resuming ${out}.partial: ${kept} finished record(s) kept${
          args.mode === "sequential" && kept > 0
            ? ", their edits written back from their patches"
            : ""
        }`,
      ),
    onRecord: (r: RecordResult) => {
      bar?.finish();
      barKey = "";
      fault(++finished);
      const note = alreadyAnsweredNote(r);
      if (args.json) {
        if (note) console.error(note);
        return;
      }
      console.error(recordLine(r));
      console.error(`   before: ${r.before.completion}`);
      console.error(`   after:  ${r.after.completion}`);
      if (note) console.error(note);
    },
  };
}

/** --profile: every dispatch's time and the copies since `started`, to OUT/profile.json. */
async function writeProfile(
  backend: Backend,
  started: number,
  startTransfers: ReturnType<Backend["transfers"]>,
  result: Result,
): Promise<void> {
  const t = backend.transfers();
  const profile = summarizeProfile(
    backend.name,
    (performance.now() - started) / 1000,
    await backend.takeDispatchTimes(),
    {
      uploads: t.uploads - startTransfers.uploads,
      uploadBytes: t.uploadBytes - startTransfers.uploadBytes,
      reads: t.reads - startTransfers.reads,
      readBytes: t.readBytes - startTransfers.readBytes,
    },
    result.records.map((r) => r.timings),
  );
  await Deno.writeTextFile(`${result.out}/profile.json`, JSON.stringify(profile, null, 2) + "\n");
  console.error(formatProfile(profile));
}

/** The metrics table (or with --json one object) of a finished or interrupted run. */
function printSummary(args: EditArgs, method: Method, result: Result): void {
  if (args.json) {
    console.log(
      JSON.stringify({ summary: result.summary, out: result.out, interrupted: result.interrupted }),
    );
    return;
  }
  const s = result.summary as unknown as Record<string, number | undefined>;
  console.log(`\n| metric | ${method.name} |\n|---|---|`);
  for (const m of METRICS) {
    const v = s[m];
    console.log(`| ${METRIC_LABELS[m]} | ${v === undefined ? "n/a" : v.toFixed(2)} |`);
  }
  if (result.sequentialEditSucc !== undefined) {
    console.log(
      `| Edit Succ. of all edits at the end (sequential) | ${
        result.sequentialEditSucc.toFixed(2)
      } |`,
    );
  }
  console.log(`\noutputs: ${result.out}`);
}

/** Everything an edit needs that is read before the backend starts, checked as one. */
async function prepareRun(args: EditArgs) {
  const method = methodByName(args.method);
  const modelDir = args.model;
  // First, so that a mistyped folder is not preceded by a note about its hyperparameter file.
  await Deno.realPath(modelDir).catch(() => fail(noModelFolder(modelDir), 1));
  const { hparams, from: hparamsFrom } = await resolveHparams(args, method);
  const { requests, source } = await resolveRequests(args);
  warnSubjectsMissing(requests, source);

  const out = args.out ??
    `out/${method.name}-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`;
  const anchorFile = args.anchors ?? defaultAnchors(modelDir);
  if (args.anchors !== undefined) {
    const missing = await missingAnchorFile(args.anchors);
    if (missing) fail(missing, 1);
  }
  if (args.resume && await present(out) && !(await present(`${out}.partial`))) {
    fail(
      `--resume: ${out} is a finished run (no ${out}.partial to continue); its results are in ` +
        `${out}/metrics.json (--force without --resume runs it again)`,
    );
  }
  if (args.resume && !(await present(`${out}.partial`))) {
    // Not refused: bench/tune.ts resumes every trial, begun or not. A mistyped --out is said.
    console.error(`note: --resume: no ${out}.partial to continue; a new run starts`);
  }
  // OUT and OUT.partial may not be, contain or lie inside the model folder, nor hold an input;
  // only an output folder of this tool is replaced, with --force (src/pipeline/output-guard.ts).
  await guardOutput(() =>
    checkOutputFolder(out, {
      model: modelDir,
      // The files this run reads, the default request and anchor files included.
      inputs: [
        source === "command line" ? undefined : source,
        args.hparams,
        anchorFile,
      ].filter((f) => f !== undefined),
      force: args.force,
      kind: "edit",
    })
  );

  // Inputs are checked against the model's config and tokenizer before any weight is read.
  const { config, tokenizer, targets } = await checkInputs(modelDir, requests, source);
  const anchorPool = await loadAnchorPool(anchorFile, source);
  const empty = args.anchors === undefined
    ? null
    : emptyAnchorPoolNote(anchorFile, source, anchorPool);
  if (empty) console.error(empty);
  // The per-edit anchors are built from the pool in run.ts; the plan counts their candidates and
  // the method says what it does with the rows (absent: the plan checks the weights only).
  const editW = editWork(method, hparams, targets, anchorPool, tokenizer, config, args.mode);
  return {
    method,
    hparams,
    hparamsFrom,
    out,
    modelDir,
    config,
    tokenizer,
    targets,
    anchorPool,
    editW,
  };
}

type Run = Awaited<ReturnType<typeof prepareRun>>;

/**
 * The model on the backend, in the dtype the method edits, refused from config.json and the
 * header alone when the edit cannot fit (ResourceError): the whole KNE edit as planned, or the
 * weights for methods the planner does not model. Says how memory is saved, if it must be.
 */
async function loadForEdit(run: Run, backend: Backend, dtype: EditArgs["dtype"]) {
  const work = run.editW.work;
  const { model, weights, plan } = await loadModel(run.modelDir, backend, {
    work,
    tokenizer: false,
    dtype,
  });
  console.error(
    `model: ${run.modelDir} (${model.config.hfClass}, ${model.config.nLayers} layers, d ${model.config.dModel}, ${weights.dtype} weights)`,
  );
  for (const note of weights.notes) console.error(`  note: ${note}`);
  for (const w of weights.warnings) console.error(`warning: ${w}`);
  const attributionChunks = work ? plan.options.attributionChunks : 1;
  if (attributionChunks > 1) {
    console.error(
      `  memory: attribution runs in ${attributionChunks} passes over groups of <= ${
        Math.ceil(model.config.nLayers / attributionChunks)
      } layers to fit (same scores, ${attributionChunks}x its time; --plan shows why)`,
    );
  }
  model.checkpointLayers = work !== undefined && plan.options.checkpointLayers;
  if (model.checkpointLayers) {
    console.error(
      "  memory: layers are checkpointed to fit (recomputed in backward: one more forward per " +
        "step; --plan shows why)",
    );
  }
  return { model, storedDtypes: weights.storedDtypes, attributionChunks };
}

/**
 * Runs the edits into OUT (locked meanwhile), Ctrl-C finishing the current record; a failure
 * stops cleanly, saying where the finished records are and how to continue. --profile times it.
 */
async function execute(
  args: EditArgs,
  run: Run,
  backend: Backend,
  loaded: Awaited<ReturnType<typeof loadForEdit>>,
): Promise<Result> {
  // No other run may write or remove OUT.partial while this one does (a stale lock is taken over).
  await guardOutput(() => lockOutput(run.out));
  const interrupt = listenForInterrupt("finishing the current record, then saving");
  if (args.profile) {
    if (!backend.canProfile) fail(`--profile: ${backend.description} cannot time dispatches`, 1);
    backend.profileDispatches(true);
  }
  const startTransfers = backend.transfers();
  const started = performance.now();
  let result;
  try {
    result = await runEdits({
      model: loaded.model,
      modelDir: run.modelDir,
      storedDtypes: loaded.storedDtypes,
      tokenizer: run.tokenizer,
      method: run.method,
      hparams: run.hparams,
      targets: run.targets,
      mode: args.mode,
      out: run.out,
      force: args.force,
      resume: args.resume,
      seed: args.seed,
      fluency: args.fluency,
      anchors: run.anchorPool,
      interrupted: interrupt.requested,
      attributionChunks: loaded.attributionChunks,
      // Fault injection for tests/reliability (src/pipeline/faults.ts).
      ...terminalReport(args, run.out, faultInjection(backend)),
    });
  } catch (e) {
    interrupt.release();
    const { message, code } = await describeFailure(fsError(e), backend, run.out);
    try {
      await backend.dispose();
    } catch {
      // a lost device may refuse; nothing is left to release
    }
    fail(message, code);
  }
  interrupt.release();
  if (args.profile) await writeProfile(backend, started, startTransfers, result);
  return result;
}

async function main() {
  let args;
  try {
    args = parseEditArgs(Deno.args);
  } catch (e) {
    if (e instanceof UsageError) exitWithError(e.message, 2, HELP);
    throw e;
  }
  if (args.help) {
    console.log(HELP);
    return;
  }
  const run = await prepareRun(args);
  const backend = await createBackend(args.backend);
  console.error(`backend: ${backend.description}`);
  // A method edits the weight dtypes it declares (KNE steps f32 masters of f16 weights); others
  // get f32 weights.
  const dtype = run.method.weightDtypes.includes(args.dtype) ? args.dtype : "f32";
  if (args.plan) {
    const weightDtype = await weightDtypeFor(run.modelDir, backend, dtype);
    const { plan, limits, text, problems } = planEdit(
      run.config,
      run.method,
      run.editW,
      backend,
      weightDtype,
    );
    if (args.json) {
      const { config: _, ...rest } = plan; // config.json is the user's own file
      console.log(JSON.stringify({ fits: problems.length === 0, problems, limits, plan: rest }));
    } else console.log(text);
    await backend.dispose();
    Deno.exit(problems.length === 0 ? 0 : 1);
  }
  const loaded = await loadForEdit(run, backend, dtype);
  console.error(
    `method: ${run.method.name}, mode ${args.mode}, ${run.targets.length} request(s); hparams: ${run.hparamsFrom}`,
  );
  const result = await execute(args, run, backend, loaded);
  await backend.dispose();
  printSummary(args, run.method, result);
  if (result.interrupted) {
    console.error(
      `interrupted: partial results are in ${result.out}; rerun with --resume to continue`,
    );
    Deno.exit(130);
  }
}

await runCommand(main);
