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
import type { EvalModel } from "../eval/model.ts";
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

/**
 * How a run edits its requests: "single" each from the unedited model (reverted after its record),
 * "batch" all in one application of the method, "sequential" one after another on the model the
 * earlier edits left.
 */
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

/**
 * What a sequence's earlier run left: its first edits' changes, and its retention checks up to the
 * last of those edits, in order.
 */
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
  /**
   * Whether a resumed run already holds the request's record: single mode skips it (a sequence
   * goes on after its replay, LoopOptions.replay).
   */
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
  const loop = new EditLoop(opts, sink);
  if (opts.mode === "batch") await loop.batch();
  else if (opts.mode === "sequential") await loop.sequence();
  else await loop.single();
  return loop.out;
}

/** One run of the loop: what every mode does to a request, and each mode's order of it. */
class EditLoop {
  readonly out: LoopOutcome = {
    applied: [],
    last: null,
    retention: [],
    interrupted: false,
    seconds: 0,
  };
  readonly #em: EvalModel;
  // Anchors are built (a forward of the unedited model over the candidates) only for a method
  // that reads them.
  readonly #usesAnchors: boolean;

  constructor(readonly opts: LoopOptions, readonly sink: LoopSink) {
    this.#em = evalModel(opts.model, opts.tokenizer);
    this.#usesAnchors = opts.method.usesAnchors(opts.hparams);
  }

  /** All requests in one apply of the method, each scored after it. */
  async batch(): Promise<void> {
    const { targets } = this.opts;
    const baselines = [];
    const befores = [];
    for (const t of targets) {
      baselines.push(await localityBaseline(this.#em, t.request));
      befores.push(await this.#before(t));
    }
    const anchors: number[][] = [];
    for (const t of targets) anchors.push(...await this.#poolAnchors(t));
    const { result, seconds } = await this.#apply(targets, anchors);
    this.out.applied.push(result.changes);
    for (let i = 0; i < targets.length; i++) {
      await this.#score(targets[i], baselines[i], befores[i], {
        result,
        seconds: seconds / targets.length,
        anchors: anchors.length,
      });
    }
  }

  /** Each request edited from the unedited model, its edit reverted after its record. */
  async single(): Promise<void> {
    for (const t of this.opts.targets) {
      if (this.sink.finished?.(t.request.index)) continue;
      if (this.#stopRequested()) break;
      const baseline = await localityBaseline(this.#em, t.request);
      const result = await this.#editOne(t, baseline, []);
      writeChanges(this.opts.model, result.changes, "before");
    }
  }

  /**
   * One request after another on the model the earlier edits left: each edit anchored also on
   * the earlier edits and shown their changes; retention measured at the checkpoints.
   */
  async sequence(): Promise<void> {
    const { targets, model, replay } = this.opts;
    // Locality compares with the original model, so every request's unedited locality answers
    // are recorded before the first edit (not after the earlier edits of the sequence).
    const baselines: LocalityBaseline[] = [];
    for (const t of targets) baselines.push(await localityBaseline(this.#em, t.request));
    // The made edits (prompt + target prefixes) anchor the later edits' KL term.
    const edited: number[][] = [];
    let made = 0;
    if (replay) {
      for (const changes of replay.changes) {
        writeChanges(model, changes, "after");
        this.out.applied.push(changes);
        edited.push(...editAnchors(targets[made++]));
      }
      this.out.retention.push(...replay.retention);
      // A check due after the last saved edit that the earlier run did not save is measured now.
      if (made > 0 && this.#checkDue(made) && this.out.retention.at(-1)?.made !== made) {
        await this.#measureRetention(made);
      }
    }
    for (let i = made; i < targets.length; i++) {
      const t = targets[i];
      if (this.#stopRequested()) break;
      // The method also sees what the earlier edits changed (KNE's spareHeld).
      const result = await this.#editOne(
        t,
        baselines[i],
        this.#usesAnchors ? edited : [],
        [...this.out.applied],
      );
      this.out.applied.push(result.changes);
      edited.push(...editAnchors(t));
      if (this.#checkDue(++made)) await this.#measureRetention(made);
    }
    if (!this.out.interrupted) {
      // The last check came after the last edit (none: an empty sequence).
      this.out.endEditSucc = this.out.retention.at(-1)?.editSucc ?? [];
    }
  }

  /** Whether the caller asked to stop (checked before each edit of single and sequential mode). */
  #stopRequested(): boolean {
    if (this.sink.interrupted?.()) this.out.interrupted = true;
    return this.out.interrupted;
  }

  /** Edits `t` alone from the model as it is and scores it; `earlier` anchors join the pool's. */
  async #editOne(
    t: EditTarget,
    baseline: LocalityBaseline,
    earlier: readonly number[][],
    prior?: readonly TensorChange[][],
  ): Promise<MethodResult> {
    const before = await this.#before(t);
    const anchors = [...await this.#poolAnchors(t), ...earlier];
    const { result, seconds } = await this.#apply([t], anchors, prior);
    await this.#score(t, baseline, before, { result, seconds, anchors: anchors.length });
    return result;
  }

  async #poolAnchors(t: EditTarget): Promise<number[][]> {
    const { model, tokenizer, anchorPool } = this.opts;
    return this.#usesAnchors && anchorPool.length > 0
      ? await buildAnchors(model, tokenizer, anchorPool, t.request, t.promptIds)
      : [];
  }

  #completion(t: EditTarget): Promise<string> {
    const { model, tokenizer, completionTokens } = this.opts;
    return greedy(model, tokenizer, t.promptIds, completionTokens);
  }

  #editSucc(t: EditTarget): Promise<number> {
    return tokenAccuracy(this.#em, t.request.prompt, t.request.targetNew);
  }

  async #before(t: EditTarget): Promise<LoopRecord["before"]> {
    return { editSucc: await this.#editSucc(t), completion: await this.#completion(t) };
  }

  /** The method's apply to `ts`, timed (its result is the outcome's last). */
  async #apply(
    ts: readonly EditTarget[],
    localityPrompts: number[][],
    priorChanges?: readonly TensorChange[][],
  ): Promise<{ result: MethodResult; seconds: number }> {
    const { model, tokenizer, method, hparams, attributionChunks } = this.opts;
    const t0 = performance.now();
    const result = await method.apply(
      {
        model,
        tokenizer,
        localityPrompts,
        priorChanges,
        onProgress: this.sink.progress,
        attributionChunks,
      },
      ts,
      hparams,
    );
    const seconds = (performance.now() - t0) / 1000;
    this.out.seconds += seconds;
    this.out.last = result;
    return { result, seconds };
  }

  /** `t`'s metrics on the model as edited, handed to the sink with its record. */
  async #score(
    t: EditTarget,
    baseline: LocalityBaseline,
    before: LoopRecord["before"],
    edit: Pick<LoopRecord, "result" | "seconds" | "anchors">,
  ): Promise<void> {
    const { fluency } = this.opts;
    const metrics = await evaluateRecord(t.request, this.#em, {
      baseline,
      fluency: fluency ? { seed: fluency.seed + t.request.index } : false,
    });
    const after = { completion: await this.#completion(t) };
    await this.sink.record({ target: t, before, metrics, after, ...edit });
  }

  #checkDue(made: number): boolean {
    const n = this.opts.targets.length;
    return this.opts.retentionChecks
      ? isRetentionCheck(made, n, Math.max(1, Math.ceil(n / 20)))
      : made === n;
  }

  /** The Edit Succ. of the first `made` edits, now; kept in the outcome and handed to the sink. */
  async #measureRetention(made: number): Promise<void> {
    // Asked together, so that the prompts run as a few batches.
    const check = {
      made,
      editSucc: await Promise.all(
        this.opts.targets.slice(0, made).map((e) => this.#editSucc(e)),
      ),
    };
    this.out.retention.push(check);
    await this.sink.retention?.(check);
  }
}
