// One edit on a loaded model, in memory: the request's metrics and greedy completion before and
// after, the method's result (exact changes, ensemble, attribution picture, timings), and the
// changes applied or reverted afterwards. It runs the edit loop of `deno task edit`
// (src/loop/edit-loop.ts) in single mode, without files, so that a page and a script get the same
// numbers; editInMemory runs it for ./edit-many.ts too.

import { greedy } from "../edit/eval-model.ts";
import type { EditMethod, Hparams, MethodProgress, MethodResult } from "../edit/method.ts";
import { writeChanges } from "../edit/snapshot.ts";
import { EditInputError, editTarget } from "../edit/targets.ts";
import type { RecordMetrics } from "../eval/record.ts";
import type { TensorChange } from "../io/patch.ts";
import { isPlainObject } from "../io/json.ts";
import { trimTrailingSpace } from "../io/formats/trailing-space.ts";
import { describeValue, type EditRequest, parseHparams } from "../io/requests.ts";
import {
  type EditMode,
  type LoopOutcome,
  type LoopRecord,
  runEditLoop,
} from "../loop/edit-loop.ts";
import { methodByName } from "../methods/registry.ts";
import type { SessionModel } from "./load.ts";
import { oneAtATime } from "./serial.ts";

/** A request from a prompt and a new target alone (no probes). */
export function simpleRequest(prompt: string, targetNew: string, subject = ""): EditRequest {
  return {
    index: 0,
    subject,
    prompt,
    targetNew,
    rephrasePrompts: [],
    portability: {},
    locality: {},
  };
}

/**
 * The greedy continuation of `prompt` (the prompt included), up to `maxNewTokens` tokens. Runs
 * after the library's calls made before it have settled (./serial.ts).
 */
export function complete(
  m: SessionModel,
  prompt: string,
  maxNewTokens = 8,
): Promise<string> {
  return oneAtATime(async () => {
    tokenCount("complete: maxNewTokens", maxNewTokens);
    return await greedy(m.model, m.tokenizer, m.tokenizer.encode(prompt), maxNewTokens);
  });
}

/**
 * Refuses a token count that is not an integer >= 0: greedy() clamps to what the context holds, so
 * -3 gave the prompt alone without a word.
 */
function tokenCount(what: string, n: unknown): void {
  if (!Number.isInteger(n) || (n as number) < 0) {
    throw new RangeError(`${what} must be an integer >= 0, got ${n}`);
  }
}

/** How edit() and editMany() edit: the method, its hyperparameters, anchors and progress. */
export interface EditOptions {
  /** A name of the method registry (default "kne"). */
  method?: string;
  /** Hyperparameters over the method's defaults, checked against its schema. */
  hparams?: Record<string, unknown>;
  /** Called as each step of the method's long phases (attribution, update...) ends. */
  onProgress?: (p: MethodProgress) => void;
  /** Greedy tokens of the before/after completions (default 8). */
  completionTokens?: number;
  /**
   * Requests whose prompts anchor a method's locality term (KNE's KL term), as `deno task edit`
   * takes the model's anchor split; absent or empty: none from a pool (a sequence still anchors
   * on its earlier edits, as in `deno task edit`).
   */
  anchorPool?: readonly EditRequest[];
}

/**
 * What edit() did: the request's completion and Edit Succ. before, its completion and metrics
 * after (each in [0, 1], as RecordMetrics; the command line's tables show means x100), and the
 * exact changes, already applied (revertChanges undoes them).
 */
export interface EditOutcome {
  /** The method's name. */
  method: string;
  /** The hyperparameters it ran with: the given ones over its defaults. */
  hparams: Hparams;
  /** Edit Succ. of the request before the edit, and the prompt's greedy completion then. */
  before: { editSucc: number; completion: string };
  /** The prompt's greedy completion (prompt included) after the edit. */
  after: { completion: string };
  /** The request's metrics after the edit (fluency skipped). */
  metrics: RecordMetrics;
  /** Exact changed entries; they are applied to the model when edit() returns. */
  changes: TensorChange[];
  /** The edit diverged (NaN/Inf) and the model was restored: `changes` is empty. */
  rolledBack: boolean;
  /** The method's own results by name (e.g. KNE's ensemble), as it returned them. */
  artifacts: MethodResult["artifacts"];
  /** The method's SVG pictures by file name (e.g. KNE's attribution), perhaps none. */
  pictures: MethodResult["pictures"];
  /** The method's seconds per phase. */
  timings: MethodResult["timings"];
  /** Wall seconds of the method's apply alone. */
  seconds: number;
  /** Anchor prompts the locality term used. */
  anchors: number;
}

/**
 * Refuses a value that is not an EditRequest, naming its first wrong field: a request file's
 * record given as it is (`target_new`, not `targetNew`) failed inside editTarget with "Cannot read
 * properties of undefined (reading 'trim')".
 */
function checkRequest(r: unknown, at: string): asserts r is EditRequest {
  const wrong = (field: string, want: string, got: unknown): never => {
    throw new EditInputError(
      `${at}${field ? `: field ${field}` : ""}: expected ${want}, got ${describeValue(got)} ` +
        "(simpleRequest() makes an EditRequest; parseRequests() and validateRequests() read a " +
        "request file's records into them)",
    );
  };
  if (!isPlainObject(r)) return wrong("", "an EditRequest object", r);
  for (const f of ["prompt", "targetNew", "subject"]) {
    if (typeof r[f] !== "string") wrong(f, "a string", r[f]);
  }
  if (!Number.isInteger(r.index)) wrong("index", "an integer", r.index);
  if (r.groundTruth !== undefined && typeof r.groundTruth !== "string") {
    wrong("groundTruth", "a string or nothing", r.groundTruth);
  }
  const rephrases = r.rephrasePrompts;
  if (!Array.isArray(rephrases) || rephrases.some((p) => typeof p !== "string")) {
    wrong("rephrasePrompts", "an array of strings", rephrases);
  }
  for (const group of ["portability", "locality"]) {
    const kinds = r[group];
    if (!isPlainObject(kinds)) return wrong(group, "an object of probe lists", kinds);
    for (const [kind, probes] of Object.entries(kinds)) {
      const probe = (p: unknown) =>
        isPlainObject(p) && typeof p.prompt === "string" && typeof p.answer === "string";
      if (!Array.isArray(probes) || !probes.every(probe)) {
        wrong(`${group}.${kind}`, "an array of { prompt, answer } strings", probes);
      }
    }
  }
}

/** What the edit loop gave for a session's requests, with the method and hyperparameters used. */
export interface SessionRun {
  method: EditMethod;
  hparams: Hparams;
  records: LoopRecord[];
  outcome: LoopOutcome;
}

/**
 * Runs the edit loop of `deno task edit` (src/loop/edit-loop.ts) over `requests` on the session's
 * model, in memory: fluency skipped, a sequence measured after its last edit only. White space at
 * the end of a prompt or subject is removed, as validateRequests removes it (an answer brings its
 * own leading space).
 */
export async function editInMemory(
  m: SessionModel,
  requests: readonly EditRequest[],
  mode: EditMode,
  opts: EditOptions,
): Promise<SessionRun> {
  requests.forEach((r, i) => checkRequest(r, requests.length === 1 ? "request" : `request ${i}`));
  const trimmed = requests.map((r) => trimTrailingSpace(r).request);
  const method = methodByName(opts.method ?? "kne");
  // As `deno task edit --dtype f16` refuses the baselines: FT-L and FT-M failed inside a kernel
  // ("kernel adam: buffer p (#49) holds f16, the kernel reads f32").
  if (!method.weightDtypes.includes(m.weights.dtype)) {
    throw new EditInputError(
      `${method.name} edits ${method.weightDtypes.join(", ")} weights, and ${m.source} holds its ` +
        `matrices as ${m.weights.dtype}: load it with dtype "f32" to edit it with ${method.name}`,
    );
  }
  const hparams = parseHparams(opts.hparams ?? {}, method.defaults, method.schema, "hparams");
  const completionTokens = opts.completionTokens ?? 8;
  tokenCount("completionTokens", completionTokens);
  const records: LoopRecord[] = [];
  const outcome = await runEditLoop({
    model: m.model,
    tokenizer: m.tokenizer,
    method,
    hparams,
    targets: trimmed.map((r) => editTarget(r, m.tokenizer, m.config.contextLength, m.source)),
    mode,
    anchorPool: opts.anchorPool ?? [],
    fluency: false,
    completionTokens,
    retentionChecks: false,
  }, { record: (r) => void records.push(r), progress: opts.onProgress });
  return { method, hparams, records, outcome };
}

/**
 * Edits `m.model` in place with one request; revertChanges(m, outcome.changes) undoes it bit for
 * bit. Runs after the library's calls made before it have settled (./serial.ts), so edits started
 * together run one after another. White space ending the prompts or subject is removed first.
 */
export function edit(
  m: SessionModel,
  request: EditRequest,
  opts: EditOptions = {},
): Promise<EditOutcome> {
  return oneAtATime(() => editOne(m, request, opts));
}

async function editOne(
  m: SessionModel,
  request: EditRequest,
  opts: EditOptions,
): Promise<EditOutcome> {
  // Single mode scores the edit and reverts it; the session keeps it applied.
  const { method, hparams, records: [r] } = await editInMemory(m, [request], "single", opts);
  applyChanges(m, r.result.changes);
  return {
    method: method.name,
    hparams,
    before: r.before,
    after: r.after,
    metrics: r.metrics,
    changes: r.result.changes,
    rolledBack: r.result.rolledBack,
    artifacts: r.result.artifacts,
    pictures: r.result.pictures,
    timings: r.result.timings,
    seconds: r.seconds,
    anchors: r.anchors,
  };
}

/**
 * Refuses, before anything is written, changes that do not fit `m`: a tensor it lacks or holds in
 * another shape (another model's changes), or entries out of order, outside the tensor or without
 * their values. Another model's changes used to fail midway (a TypeError, or a BackendError after
 * the earlier tensors were written) or, where a tensor of the same name was larger, be written
 * into the wrong entries without a word.
 */
function checkChanges(m: SessionModel, changes: readonly TensorChange[], what: string): void {
  for (const c of changes) {
    const p = m.model.params.get(c.name);
    const fail: (why: string) => never = (why) => {
      throw new EditInputError(`${what}: tensor ${c.name}: ${why}; nothing was written`);
    };
    if (!p) fail(`${m.source} has no such tensor (are these another model's changes?)`);
    if (p.shape.length !== c.shape.length || p.shape.some((d, i) => d !== c.shape[i])) {
      fail(
        `${m.source} holds it as [${p.shape.join(", ")}], the changes as [${c.shape.join(", ")}]` +
          " (are these another model's changes?)",
      );
    }
    const k = c.indices.length;
    if (c.before.length !== k || c.after.length !== k) {
      fail(`${k} indices but ${c.before.length} before and ${c.after.length} after values`);
    }
    const size = p.value.size;
    c.indices.forEach((idx, i) => {
      if (idx >= size || (i > 0 && idx <= c.indices[i - 1])) {
        fail(`index ${idx} at ${i} is not ascending within [0, ${size})`);
      }
    });
  }
}

/** Writes the edited values of `changes` into the model (checked first: checkChanges). */
export function applyChanges(m: SessionModel, changes: readonly TensorChange[]): void {
  checkChanges(m, changes, "applyChanges");
  writeChanges(m.model, changes, "after");
}

/**
 * Writes the original values of `changes` back: the model is as before the edit, bit for bit
 * (checked first: checkChanges).
 */
export function revertChanges(m: SessionModel, changes: readonly TensorChange[]): void {
  checkChanges(m, changes, "revertChanges");
  writeChanges(m.model, changes, "before");
}
