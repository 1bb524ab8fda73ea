// The per-mode edit loop, written once for the run folder of `deno task edit` (src/pipeline/run.ts)
// and the in-memory session of the page (src/session/):
// - single: each request edited from the unedited model (its edit reverted after its record);
// - batch: the method applied once to all requests;
// - sequential: one request after another on the model the earlier edits left, the method's
//   locality anchors extended by the earlier edits (each prefix of prompt + target).
// Every request's locality baseline comes from the model before its edit (batch and sequential:
// before the first edit), as EasyEdit measures Locality; its "before" Edit Succ. and completion
// from the model its own edit starts from. A sequence re-measures the Edit Succ. of the edits so
// far after its last edit, and with retention checks also at the checkpoints of
// src/eval/retention.ts. What differs between the callers goes through a sink: where each record
// goes, which records a resumed run already holds, the method's progress, and a stop request.
// A resumed sequence replays its earlier run's edits (their changes, in order) onto the model
// after the locality baselines, so that it goes on from the model the last saved edit left.

import { buildAnchors, editAnchors } from "../edit/anchors.ts";
import { evalModel, greedy } from "../edit/eval-model.ts";
import type {
  EditMethod,
  EditTarget,
  Hparams,
  MethodProgress,
  MethodResult,
} from "../edit/method.ts";
import { writeChanges } from "../edit/snapshot.ts";
import { tokenAccuracy } from "../eval/accuracy.ts";
import {
  evaluateRecord,
  type LocalityBaseline,
  localityBaseline,
  type RecordMetrics,
} from "../eval/record.ts";
import { isRetentionCheck, type RetentionCheck } from "../eval/retention.ts";
import type { TensorChange } from "../io/patch.ts";
import type { EditRequest } from "../io/requests.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";

export type EditMode = "single" | "batch" | "sequential";

export interface LoopOptions {
  model: CausalLM;
  tokenizer: Tokenizer;
  method: EditMethod;
  hparams: Hparams;
  targets: readonly EditTarget[];
  mode: EditMode;
  /**
   * The requests each edit's locality anchors are built from (src/edit/anchors.ts), never the
   * evaluated probes; empty: none from a pool (a sequence still anchors on its earlier edits).
   */
  anchorPool: readonly EditRequest[];
  /** Fluency sampled with seed + the request's index; false skips it. */
  fluency: { seed: number } | false;
  /** Greedy tokens of the before and after completions. */
  completionTokens: number;
  /** Sequential: measure the edits so far at every retention checkpoint, not only at the end. */
  retentionChecks: boolean;
  /** Layer groups for attribution, from the memory plan (EditContext.attributionChunks). */
  attributionChunks?: number;
  /**
   * Sequential, continuing an earlier run: the changes of its first edits, in the targets' order,
   * and the retention checks it saved. Those edits are written back, not redone.
   */
  replay?: SequenceSoFar;
}

/** What a sequence's earlier run left: its first edits' changes and its retention checks. */
export interface SequenceSoFar {
  changes: TensorChange[][];
  retention: RetentionCheck[];
}

/** One request's record, handed to the sink as soon as it is scored. */
export interface LoopRecord {
  target: EditTarget;
  before: { editSucc: number; completion: string };
  /** The request's metrics right after its edit (batch: after the one edit of all). */
  metrics: RecordMetrics;
  after: { completion: string };
  /** The method's result (batch: the one result of all requests). */
  result: MethodResult;
  /** Wall seconds of the method's apply (batch: an equal share of the one apply). */
  seconds: number;
  /** Anchor prompts the method's locality term was given. */
  anchors: number;
}

/** Where the loop's records go and what it asks its caller. */
export interface LoopSink {
  /** Takes each record once it is scored (single mode: before its edit is reverted). */
  record: (r: LoopRecord) => Promise<void> | void;
  /** Whether a resumed run already holds the request's record: single and sequential skip it. */
  finished?: (index: number) => boolean;
  progress?: (p: MethodProgress) => void;
  /** True when the caller asked to stop; checked before each edit of single and sequential mode. */
  interrupted?: () => boolean;
  /** Takes each retention check of a sequence once it is measured (a resume reads them back). */
  retention?: (c: RetentionCheck) => Promise<void> | void;
}

export interface LoopOutcome {
  /** The changes left applied to the model, one list per apply (single mode: none). */
  applied: TensorChange[][];
  /** The last apply's result (its artefacts and pictures); null when no edit ran. */
  last: MethodResult | null;
  /** Sequential: the Edit Succ. (0..1) of the edits so far at each checkpoint. */
  retention: RetentionCheck[];
  /** Sequential, when every edit was made: each request's Edit Succ. after the last edit. */
  endEditSucc?: number[];
  interrupted: boolean;
  /** Wall seconds of the method's applies alone. */
  seconds: number;
}

/** Edits `opts.model` in place with `opts.targets` in `opts.mode`, each record to `sink`. */
export async function runEditLoop(opts: LoopOptions, sink: LoopSink): Promise<LoopOutcome> {
  const { model, tokenizer, method, hparams, targets, mode } = opts;
  const em = evalModel(model, tokenizer);
  const out: LoopOutcome = {
    applied: [],
    last: null,
    retention: [],
    interrupted: false,
    seconds: 0,
  };
  // Anchors are built (a forward of the unedited model over the candidates) only for a method
  // that reads them.
  const usesAnchors = method.usesAnchors(hparams);
  const poolAnchors = async (t: EditTarget) =>
    usesAnchors && opts.anchorPool.length > 0
      ? await buildAnchors(model, tokenizer, opts.anchorPool, t.request, t.promptIds)
      : [];
  const completion = (t: EditTarget) =>
    greedy(model, tokenizer, t.promptIds, opts.completionTokens);
  const editSucc = (t: EditTarget) => tokenAccuracy(em, t.request.prompt, t.request.targetNew);
  const beforeOf = async (t: EditTarget) => ({
    editSucc: await editSucc(t),
    completion: await completion(t),
  });
  const apply = async (
    ts: readonly EditTarget[],
    localityPrompts: number[][],
    priorChanges?: readonly TensorChange[][],
  ) => {
    const t0 = performance.now();
    const result = await method.apply(
      {
        model,
        tokenizer,
        localityPrompts,
        priorChanges,
        onProgress: sink.progress,
        attributionChunks: opts.attributionChunks,
      },
      ts,
      hparams,
    );
    const seconds = (performance.now() - t0) / 1000;
    out.seconds += seconds;
    out.last = result;
    return { result, seconds };
  };
  const scored = async (
    t: EditTarget,
    baseline: LocalityBaseline,
    before: LoopRecord["before"],
    result: MethodResult,
    seconds: number,
    anchors: number,
  ) => {
    const metrics = await evaluateRecord(t.request, em, {
      baseline,
      fluency: opts.fluency ? { seed: opts.fluency.seed + t.request.index } : false,
    });
    const after = { completion: await completion(t) };
    await sink.record({ target: t, before, metrics, after, result, seconds, anchors });
  };

  if (mode === "batch") {
    const baselines = [];
    const befores = [];
    for (const t of targets) {
      baselines.push(await localityBaseline(em, t.request));
      befores.push(await beforeOf(t));
    }
    const anchors: number[][] = [];
    for (const t of targets) anchors.push(...await poolAnchors(t));
    const { result, seconds } = await apply(targets, anchors);
    out.applied.push(result.changes);
    for (let i = 0; i < targets.length; i++) {
      await scored(
        targets[i],
        baselines[i],
        befores[i],
        result,
        seconds / targets.length,
        anchors.length,
      );
    }
    return out;
  }

  // Sequential: Locality compares with the original model, so every request's unedited locality
  // answers are recorded before the first edit (not after the earlier edits of the sequence).
  const baselines: LocalityBaseline[] = [];
  if (mode === "sequential") {
    for (const t of targets) baselines.push(await localityBaseline(em, t.request));
  }
  const every = Math.max(1, Math.ceil(targets.length / 20));
  const checkDue = (made: number) =>
    opts.retentionChecks ? isRetentionCheck(made, targets.length, every) : made === targets.length;
  const measureRetention = async (made: number) => {
    // Asked together, so that the prompts run as a few batches.
    const check = {
      made,
      editSucc: await Promise.all(targets.slice(0, made).map((e) => editSucc(e))),
    };
    out.retention.push(check);
    await sink.retention?.(check);
  };
  // Sequential: the made edits (prompt + target prefixes) anchor the later edits' KL term.
  const edited: number[][] = [];
  let made = 0;
  if (mode === "sequential" && opts.replay) {
    for (const changes of opts.replay.changes) {
      writeChanges(model, changes, "after");
      out.applied.push(changes);
      edited.push(...editAnchors(targets[made++]));
    }
    out.retention.push(...opts.replay.retention.filter((c) => c.made <= made));
    // A check due after the last saved edit that the earlier run did not save is measured now.
    if (made > 0 && checkDue(made) && out.retention.at(-1)?.made !== made) {
      await measureRetention(made);
    }
  }
  for (let i = made; i < targets.length; i++) {
    const t = targets[i];
    if (sink.finished?.(t.request.index)) continue;
    if (sink.interrupted?.()) {
      out.interrupted = true;
      break;
    }
    const baseline = baselines[i] ?? await localityBaseline(em, t.request);
    const before = await beforeOf(t);
    const anchors = [
      ...await poolAnchors(t),
      ...(mode === "sequential" && usesAnchors ? edited : []),
    ];
    // Sequential: the method also sees what the earlier edits changed (KNE's spareHeld).
    const prior = mode === "sequential" ? [...out.applied] : undefined;
    const { result, seconds } = await apply([t], anchors, prior);
    await scored(t, baseline, before, result, seconds, anchors.length);
    if (mode === "single") {
      writeChanges(model, result.changes, "before");
      continue;
    }
    out.applied.push(result.changes);
    edited.push(...editAnchors(t));
    if (checkDue(++made)) await measureRetention(made);
  }
  if (mode === "sequential" && !out.interrupted) {
    // The last check came after the last edit (none: an empty sequence).
    out.endEditSucc = out.retention.at(-1)?.editSucc ?? [];
  }
  return out;
}
