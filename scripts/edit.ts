// `deno task edit`: edits facts in a model with KNE (or a baseline) and reports Edit Succ.,
// Generalization, Portability, Locality and Fluency, before/after completions, the ensemble,
// an attribution picture, the edited checkpoint and a sparse patch. `--help` lists the options.

import { parseArgs } from "node:util";
import { createBackend, parseBackendChoice } from "../engine/select.ts";
import { Progress } from "../src/cli/progress.ts";
import { type EditMode, runEdits } from "../src/edit/run.ts";
import { editTarget } from "../src/edit/targets.ts";
import { METRIC_LABELS, METRICS } from "../src/eval/aggregate.ts";
import {
  type EditRequest,
  loadRequests,
  parseHparams,
  validateRequests,
} from "../src/io/requests.ts";
import { loadModel } from "../src/model/load.ts";
import { methodByName, METHODS } from "../src/methods/registry.ts";

const DEFAULT_MODEL = "models/kne-facts";
const DEFAULT_REQUESTS = "data/requests/test.json";
const DEFAULT_ANCHORS = "data/requests/dev.json";
const ANCHOR_COUNT = 16;

const HELP = `Usage: deno task edit [options]

  --model DIR          Hugging Face model folder (default ${DEFAULT_MODEL})
  --requests FILE      KnowEdit-style request file (default: one request from ${DEFAULT_REQUESTS})
  --prompt TEXT        edit one fact given on the command line (with --target)
  --target TEXT        the new answer
  --subject TEXT       the subject (default: the prompt)
  --n N                use the first N requests of the file
  --method NAME        ${[...METHODS.keys()].join(" | ")} (default kne)
  --hparams FILE       JSON hyperparameters overriding the method's defaults
  --mode MODE          single | batch | sequential (default single)
  --backend B          webgpu | wasm | auto (default auto)
  --anchors FILE       request file whose prompts serve as unrelated anchor prompts for
                       locality terms (default ${DEFAULT_ANCHORS}, first ${ANCHOR_COUNT}; never the
                       evaluated requests)
  --out DIR            output folder (default out/<method>-<time>)
  --force              replace an existing output folder
  --resume             continue an interrupted run from OUT.partial
  --no-fluency         skip the fluency metric (sampling)
  --json               print the metrics as JSON on stdout
  --seed N             seed for sampling (default 0)
`;

function fail(msg: string, code = 2): never {
  console.error(`error: ${msg}`);
  Deno.exit(code);
}

async function main() {
  let args;
  try {
    args = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        model: { type: "string", default: DEFAULT_MODEL },
        requests: { type: "string" },
        prompt: { type: "string" },
        target: { type: "string" },
        subject: { type: "string" },
        n: { type: "string" },
        method: { type: "string", default: "kne" },
        hparams: { type: "string" },
        mode: { type: "string", default: "single" },
        backend: { type: "string", default: "auto" },
        out: { type: "string" },
        anchors: { type: "string" },
        force: { type: "boolean", default: false },
        resume: { type: "boolean", default: false },
        "no-fluency": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        seed: { type: "string", default: "0" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    fail(`${(e as Error).message}\n\n${HELP}`);
  }
  if (args.help) {
    console.log(HELP);
    return;
  }
  const mode = args.mode as EditMode;
  if (!["single", "batch", "sequential"].includes(mode)) {
    fail(`--mode must be single, batch or sequential`);
  }
  const seed = Number(args.seed);
  if (!Number.isInteger(seed)) fail(`--seed must be an integer, got "${args.seed}"`);
  const method = methodByName(args.method!);
  let hparams = method.defaults;
  if (args.hparams) {
    const text = await Deno.readTextFile(args.hparams).catch((e) =>
      fail(`cannot read ${args.hparams}: ${e.message}`)
    );
    hparams = parseHparams(text, method.defaults, method.schema, args.hparams);
  }

  let requests: EditRequest[];
  let source: string;
  if (args.prompt !== undefined || args.target !== undefined) {
    if (args.prompt === undefined || args.target === undefined) {
      fail("--prompt and --target go together");
    }
    if (args.requests) fail("give either --requests or --prompt/--target, not both");
    source = "command line";
    requests = validateRequests(
      [{ subject: args.subject ?? args.prompt, prompt: args.prompt, target_new: args.target }],
      source,
    );
  } else {
    source = args.requests ?? DEFAULT_REQUESTS;
    requests = await loadRequests(source);
    if (!args.requests && args.n === undefined) {
      // The demo: the capital of France, if the benchmark has it.
      const france = requests.find((r) => r.subject === "France" && /capital/.test(r.prompt));
      requests = [france ?? requests[0]];
    }
  }
  if (args.n !== undefined) {
    const n = Number(args.n);
    if (!Number.isInteger(n) || n < 1) fail(`--n must be a positive integer, got "${args.n}"`);
    requests = requests.slice(0, n);
  }

  const out = args.out ??
    `out/${method.name}-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`;
  const modelDir = args.model!.replace(/\/+$/, "");
  const realOut = await Deno.realPath(out).catch(() => null);
  const realModel = await Deno.realPath(modelDir).catch(() =>
    fail(
      `--model ${modelDir}: no such folder${
        modelDir === DEFAULT_MODEL ? " (train the default model with `deno task train`)" : ""
      }`,
    )
  );
  if (realOut && (realOut === realModel || realModel.startsWith(realOut + "/"))) {
    fail(`--out ${out} would overwrite the input model`);
  }

  const backend = await createBackend(parseBackendChoice(args.backend!));
  console.error(`backend: ${backend.description}`);
  const { model, tokenizer } = await loadModel(modelDir, backend);
  const targets = requests.map((r) =>
    editTarget(r, tokenizer!, model.config.contextLength, source)
  );
  const anchorFile = args.anchors ?? DEFAULT_ANCHORS;
  const anchorExists = await Deno.stat(anchorFile).then(() => true, () => false);
  const anchors = anchorFile === source || !anchorExists ? [] : (await loadRequests(anchorFile))
    .slice(0, ANCHOR_COUNT)
    .map((r) => tokenizer!.encode(r.prompt))
    .filter((ids) => ids.length > 0 && ids.length <= model.config.contextLength);
  console.error(
    `model: ${modelDir} (${model.config.hfClass}, ${model.config.nLayers} layers, d ${model.config.dModel})`,
  );
  console.error(`method: ${method.name}, mode ${mode}, ${targets.length} request(s)`);

  let stop = false;
  const onSigint = () => {
    if (stop) Deno.exit(130);
    stop = true;
    console.error("\ninterrupt: finishing the current record, then saving (Ctrl-C again to abort)");
  };
  Deno.addSignalListener("SIGINT", onSigint);
  let bar: Progress | null = null;
  let barKey = "";
  const result = await runEdits({
    model,
    modelDir,
    tokenizer: tokenizer!,
    method,
    hparams,
    targets,
    mode,
    out,
    force: args.force!,
    resume: args.resume!,
    seed,
    fluency: !args["no-fluency"],
    anchors,
    interrupted: () => stop,
    onProgress: (phase, step, of, loss) => {
      if (barKey !== phase || !bar) {
        bar?.finish();
        bar = new Progress(`  ${phase.padEnd(12)}`, of, "step");
        barKey = phase;
      }
      bar.update(step, loss !== undefined ? `loss ${loss.toFixed(4)}` : "");
      if (step >= of) barKey = "";
    },
    onRecord: (r) => {
      bar?.finish();
      barKey = "";
      if (args.json) return;
      console.error(
        `#${r.index} ${r.prompt} -> ${r.targetNew}: edit succ ${
          (100 * r.before.editSucc).toFixed(0)
        } -> ${(100 * r.after.editSucc).toFixed(0)}, ${r.paramsChanged} params, ${
          r.seconds.toFixed(2)
        } s${r.rolledBack ? " (ROLLED BACK: diverged)" : ""}`,
      );
      console.error(`   before: ${r.before.completion}`);
      console.error(`   after:  ${r.after.completion}`);
    },
  });
  Deno.removeSignalListener("SIGINT", onSigint);
  backend.dispose();
  if (args.json) {
    console.log(
      JSON.stringify({ summary: result.summary, out: result.out, interrupted: result.interrupted }),
    );
  } else {
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
  if (result.interrupted) {
    console.error(
      `interrupted: partial results are in ${result.out}; rerun with --resume to continue`,
    );
    Deno.exit(130);
  }
}

try {
  await main();
} catch (e) {
  fail((e as Error).message, 1);
}
