// One edit on a loaded model, in memory: the request's metrics and greedy completion before and
// after, the method's result (exact changes, ensemble, attribution picture, timings), and the
// changes applied or reverted afterwards. What `deno task edit` does for one record in single
// mode, without files, so that a page and a script get the same numbers.

import { buildAnchors } from "../edit/anchors.ts";
import { evalModel } from "../edit/eval-model.ts";
import type { Hparams, MethodProgress, MethodResult } from "../edit/method.ts";
import { writeChanges } from "../edit/snapshot.ts";
import { editTarget } from "../edit/targets.ts";
import { tokenAccuracy } from "../eval/accuracy.ts";
import { evaluateRecord, localityBaseline, type RecordMetrics } from "../eval/record.ts";
import type { TensorChange } from "../io/patch.ts";
import { type EditRequest, parseHparams } from "../io/requests.ts";
import { generate } from "../model/generate.ts";
import { methodByName } from "../methods/registry.ts";
import type { SessionModel } from "./load.ts";

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

/** The greedy continuation of `prompt` (the prompt included), up to `maxNewTokens` tokens. */
export async function complete(
  m: SessionModel,
  prompt: string,
  maxNewTokens = 8,
): Promise<string> {
  const ids = m.tokenizer.encode(prompt);
  const n = Math.max(0, Math.min(maxNewTokens, m.config.contextLength - ids.length));
  const eosId = m.config.eosTokenId ?? undefined;
  return m.tokenizer.decode((await generate(m.model, ids, { maxNewTokens: n, eosId })).ids);
}

export interface EditOptions {
  /** A name of the method registry (default "kne"). */
  method?: string;
  /** Hyperparameters over the method's defaults, checked against its schema. */
  hparams?: Record<string, unknown>;
  onProgress?: (p: MethodProgress) => void;
  /** Greedy tokens of the before/after completions (default 8). */
  completionTokens?: number;
  /**
   * Requests whose prompts anchor a method's locality term (KNE's KL term), as `deno task edit`
   * takes the model's anchor split; absent or empty: the method runs without anchors.
   */
  anchorPool?: readonly EditRequest[];
}

export interface EditOutcome {
  method: string;
  hparams: Hparams;
  before: { editSucc: number; completion: string };
  after: { completion: string };
  /** The request's metrics after the edit (fluency skipped). */
  metrics: RecordMetrics;
  /** Exact changed entries; they are applied to the model when edit() returns. */
  changes: TensorChange[];
  rolledBack: boolean;
  artifacts: MethodResult["artifacts"];
  pictures: MethodResult["pictures"];
  timings: MethodResult["timings"];
  /** Wall seconds of the method's apply alone. */
  seconds: number;
  /** Anchor prompts the locality term used. */
  anchors: number;
}

/** Edits `m.model` in place with one request; revert() undoes it bit for bit. */
export async function edit(
  m: SessionModel,
  request: EditRequest,
  opts: EditOptions = {},
): Promise<EditOutcome> {
  const method = methodByName(opts.method ?? "kne");
  const hp = parseHparams(opts.hparams ?? {}, method.defaults, method.schema, "hparams");
  const target = editTarget(request, m.tokenizer, m.config.contextLength, m.source);
  const em = evalModel(m.model, m.tokenizer);
  const n = opts.completionTokens ?? 8;
  const baseline = await localityBaseline(em, request);
  const before = {
    editSucc: await tokenAccuracy(em, request.prompt, request.targetNew),
    completion: await complete(m, request.prompt, n),
  };
  // Anchors come from the unedited model, before the edit, as in the edit run.
  const localityPrompts = opts.anchorPool?.length && method.usesAnchors(hp)
    ? await buildAnchors(m.model, m.tokenizer, opts.anchorPool, request, target.promptIds)
    : [];
  const t0 = performance.now();
  const result = await method.apply(
    { model: m.model, tokenizer: m.tokenizer, localityPrompts, onProgress: opts.onProgress },
    [target],
    hp,
  );
  const seconds = (performance.now() - t0) / 1000;
  const metrics = await evaluateRecord(request, em, { baseline, fluency: false });
  return {
    method: method.name,
    hparams: hp,
    before,
    after: { completion: await complete(m, request.prompt, n) },
    metrics,
    changes: result.changes,
    rolledBack: result.rolledBack,
    artifacts: result.artifacts,
    pictures: result.pictures,
    timings: result.timings,
    seconds,
    anchors: localityPrompts.length,
  };
}

/** Writes the edited values of `changes` into the model. */
export function applyChanges(m: SessionModel, changes: readonly TensorChange[]): void {
  writeChanges(m.model, changes, "after");
}

/** Writes the original values of `changes` back: the model is as before the edit, bit for bit. */
export function revertChanges(m: SessionModel, changes: readonly TensorChange[]): void {
  writeChanges(m.model, changes, "before");
}
