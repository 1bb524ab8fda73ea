// Command-line arguments of scripts/edit.ts, parsed and validated in one pure function so that
// every refusal is a UsageError with a clear message (the CLI prints it and exits 2) and the
// validation can be fuzzed in-process (tests/reliability/args_test.ts).

import { DEFAULT_MODEL, defaultAnchors, splitsOf } from "./models.ts";
import { parseArgs } from "node:util";
import { notOneOf, wholeNumber } from "../cli/flags.ts";
import { type BackendChoice, parseBackendChoice } from "../../engine/select.ts";
import { METHODS } from "../methods/registry.ts";
import { WEIGHT_DTYPES, type WeightDtype } from "../model/dtype.ts";
import { FORMAT_NAMES, isRequestFormat, type RequestFormat } from "../io/requests.ts";
import type { EditMode } from "./records.ts";
import { ANCHOR_DEFAULTS } from "../edit/anchors.ts";

/** Anchors per edit at most: other subjects' prompts plus subject-swapped rephrasings. */
const ANCHOR_COUNT = ANCHOR_DEFAULTS.maxOther + ANCHOR_DEFAULTS.maxSubject;

/** The --help text of `deno task edit`: every option with its default. */
export const HELP = `Usage: deno task edit [options]

  --model DIR          Hugging Face model folder (default ${DEFAULT_MODEL})
  --requests FILE      request file (default: the model's demo request,
                       ${splitsOf(DEFAULT_MODEL).demo} for the default model; with --n,
                       its test split, ${splitsOf(DEFAULT_MODEL).test})
  --format F           its shape: auto | knowedit | counterfact | zsre | mquake (default auto:
                       told by the first record's keys; README "Request files")
  --prompt TEXT        edit one fact given on the command line (with --target)
  --target TEXT        the new answer
  --subject TEXT       the subject, a part of the prompt (default: the whole prompt)
  --n N                use the first N requests of the file (not with --prompt)
  --method NAME        ${[...METHODS.keys()].join(" | ")} (default kne)
  --hparams FILE       JSON hyperparameters overriding the method's defaults (default: the file
                       shipped for the model, hparams/<method>/<model folder name>.json, if any)
  --mode MODE          single | batch | sequential (default single)
  --backend B          webgpu | wasm | auto (default auto)
  --dtype D            weight matrices on the device: auto | f32 | f16 (default auto: f16 on
                       WebGPU for F16/BF16 checkpoints, else f32); f16 halves their bytes,
                       products accumulate in f32, KNE steps f32 master copies (KNE only)
  --anchors FILE       anchor pool for locality terms (default: the model's anchor split,
                       ${defaultAnchors(DEFAULT_MODEL)} for the default model): its prompts
                       and its rephrasings with the edited subject swapped in, at most
                       ${ANCHOR_COUNT} per edit; never the evaluated probes (src/edit/anchors.ts):
                       the --requests file itself gives none; a named FILE must exist
  --out DIR            output folder (default out/<method>-<time>)
  --force              replace an existing output folder
  --resume             continue an interrupted run from OUT.partial (needs --out)
  --plan               print the memory plan for this model and edit, then exit
                       (exit 0 when it fits the backend, 1 when it does not)
  --profile            time every dispatch (per kernel), count host <-> device copies, sum the
                       method's phases; printed and written to OUT/profile.json
  --no-fluency         skip the fluency metric (sampling)
  --json               print the metrics (with --plan: the plan) as JSON on stdout
  --seed N             seed for sampling (default 0)
`;

/** A command line that cannot be run; the message says why. */
export class UsageError extends Error {
  /** "UsageError", which String(error) and the stack print before the message. */
  override name = "UsageError";
}

/** The options of `deno task edit`, checked (parseEditArgs); absent ones were not given. */
export interface EditArgs {
  /** --model: the model folder, without trailing slashes (default DEFAULT_MODEL). */
  model: string;
  /** --requests: the request file (absent: the model's demo request, or test split with --n). */
  requests?: string;
  /** The shape of the --requests file. */
  format: RequestFormat;
  /** --prompt: the prompt of one request given on the command line (always with `target`). */
  prompt?: string;
  /** --target: the new answer of that request. */
  target?: string;
  /** --subject: the request's subject, a part of `prompt` (absent: the whole prompt). */
  subject?: string;
  /** --n: edit only the first n requests of the file (n >= 1). */
  n?: number;
  /** --method: a name of METHODS (default "kne"). */
  method: string;
  /** --hparams: a JSON hyperparameter file (absent: the one shipped for the model, if any). */
  hparams?: string;
  /** --mode (default "single"). */
  mode: EditMode;
  /** --backend: webgpu, wasm or auto (default auto). */
  backend: BackendChoice;
  /** --dtype: the device dtype of the weight matrices (default auto). */
  dtype: WeightDtype;
  /** Without trailing slashes (OUT.partial must be a sibling of OUT). */
  out?: string;
  /** --anchors: the anchor pool file (absent: the model's anchor split). */
  anchors?: string;
  /** --force: replace an existing output folder. */
  force: boolean;
  /** --resume: continue the interrupted run in OUT.partial (only with `out`). */
  resume: boolean;
  /** --plan: print the memory plan and exit. */
  plan: boolean;
  /** --profile: time every dispatch and count copies into OUT/profile.json. */
  profile: boolean;
  /** Measure fluency (false with --no-fluency). */
  fluency: boolean;
  /** --json: print the metrics (or the plan) as JSON on stdout. */
  json: boolean;
  /** --seed: the sampling seed, an integer (default 0). */
  seed: number;
  /** --help or -h: print HELP; the other fields are then unchecked. */
  help: boolean;
}

const MODES: readonly string[] = ["single", "batch", "sequential"];

/** A folder argument without trailing slashes; refuses empty ones. */
function folder(flag: string, v: string): string {
  if (v.trim() === "") throw new UsageError(`${flag} must not be empty`);
  const s = v.replace(/\/+$/, "");
  return s === "" ? "/" : s;
}

/** Parses and validates `argv`; throws UsageError (never anything else) on a bad command line. */
export function parseEditArgs(argv: readonly string[]): EditArgs {
  let v;
  try {
    v = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: "string", default: DEFAULT_MODEL },
        requests: { type: "string" },
        format: { type: "string" },
        prompt: { type: "string" },
        target: { type: "string" },
        subject: { type: "string" },
        n: { type: "string" },
        method: { type: "string", default: "kne" },
        hparams: { type: "string" },
        mode: { type: "string", default: "single" },
        backend: { type: "string", default: "auto" },
        dtype: { type: "string", default: "auto" },
        out: { type: "string" },
        anchors: { type: "string" },
        force: { type: "boolean", default: false },
        resume: { type: "boolean", default: false },
        plan: { type: "boolean", default: false },
        profile: { type: "boolean", default: false },
        "no-fluency": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        seed: { type: "string", default: "0" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const args: EditArgs = {
    model: folder("--model", v.model!),
    method: v.method!,
    format: "auto",
    mode: v.mode as EditMode,
    backend: "auto",
    dtype: v.dtype as WeightDtype,
    force: v.force!,
    resume: v.resume!,
    plan: v.plan!,
    profile: v.profile!,
    fluency: !v["no-fluency"],
    json: v.json!,
    seed: 0,
    help: v.help!,
  };
  if (args.help) return args;
  if (!MODES.includes(v.mode!)) {
    throw new UsageError(`--mode must be single, batch or sequential, got "${v.mode}"`);
  }
  if (!METHODS.has(args.method)) {
    throw new UsageError(notOneOf("method", args.method, METHODS.keys()));
  }
  try {
    args.backend = parseBackendChoice(v.backend!);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!WEIGHT_DTYPES.includes(args.dtype)) {
    throw new UsageError(notOneOf("dtype", v.dtype!, WEIGHT_DTYPES));
  }
  const declared = METHODS.get(args.method)?.weightDtypes;
  if (declared && !declared.includes(args.dtype) && args.dtype !== "auto") {
    throw new UsageError(
      `--dtype ${args.dtype} does not work with --method ${args.method} (it edits ${
        declared.join(", ")
      } weights)`,
    );
  }
  const seed = wholeNumber(v.seed!);
  if (seed === null) throw new UsageError(`--seed must be an integer, got "${v.seed}"`);
  args.seed = seed;
  if (v.n !== undefined) {
    const n = wholeNumber(v.n);
    if (n === null || n < 1) throw new UsageError(`--n must be a positive integer, got "${v.n}"`);
    args.n = n;
  }
  if (v.prompt !== undefined || v.target !== undefined) {
    if (v.prompt === undefined || v.target === undefined) {
      throw new UsageError("--prompt and --target go together");
    }
    if (v.requests !== undefined) {
      throw new UsageError("give either --requests or --prompt/--target, not both");
    }
    if (v.n !== undefined) throw new UsageError("--n picks requests of a file, not --prompt");
    args.prompt = v.prompt;
    args.target = v.target;
  }
  if (v.subject !== undefined) {
    if (args.prompt === undefined) throw new UsageError("--subject goes with --prompt/--target");
    if (v.subject.trim() === "") throw new UsageError("--subject must not be empty");
    // ROME and MEMIT write at the subject's last token: one the prompt lacks has none.
    if (!args.prompt.includes(v.subject)) {
      throw new UsageError(
        `--subject ${JSON.stringify(v.subject)} does not occur in --prompt ${
          JSON.stringify(args.prompt)
        }`,
      );
    }
    args.subject = v.subject;
  }
  if (v.requests !== undefined) {
    if (v.requests.trim() === "") throw new UsageError("--requests must not be empty");
    args.requests = v.requests;
  }
  if (v.format !== undefined) {
    if (!isRequestFormat(v.format)) {
      throw new UsageError(`--format must be ${FORMAT_NAMES}, got "${v.format}"`);
    }
    if (args.prompt !== undefined) throw new UsageError("--format goes with --requests");
    args.format = v.format;
  }
  if (v.hparams !== undefined) {
    if (v.hparams.trim() === "") throw new UsageError("--hparams must not be empty");
    args.hparams = v.hparams;
  }
  if (v.out !== undefined) args.out = folder("--out", v.out);
  if (v.anchors !== undefined) {
    if (v.anchors.trim() === "") throw new UsageError("--anchors must not be empty");
    args.anchors = v.anchors;
  }
  if (args.resume && args.out === undefined) {
    throw new UsageError("--resume needs --out, the folder of the interrupted run");
  }
  return args;
}
