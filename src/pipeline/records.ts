// What an edit run is given (RunOptions), what it records per request (RecordResult, one line of
// OUT.partial/records.jsonl, and the line the terminal shows for it) and what it returns
// (RunResult).

import type { EditMethod, EditTarget, Hparams } from "../edit/method.ts";
import type { Summary } from "../eval/aggregate.ts";
import type { RecordMetrics } from "../eval/record.ts";
import type { EditRequest } from "../io/requests.ts";
import type { SourceDtypes } from "../io/patch.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { EditMode } from "../loop/edit-loop.ts";
import type { CausalLM } from "../model/lm.ts";

export type { EditMode };

/** What runEdits edits, how, and where it writes (scripts/edit.ts fills it from EditArgs). */
export interface RunOptions {
  /** The loaded model, edited in place (in single mode each edit is reverted after its record). */
  model: CausalLM;
  /**
   * The folder it was loaded from: the run's manifest identifies its checkpoint, config and
   * tokenizer, and OUT/model takes copies of its config.json and tokenizer files.
   */
  modelDir: string;
  /** Each parameter's dtype in the checkpoint at modelDir (LoadedWeights.storedDtypes). */
  storedDtypes: SourceDtypes;
  /** The model's tokenizer. */
  tokenizer: Tokenizer;
  /** The editing method to run. */
  method: EditMethod;
  /** Its hyperparameters, already checked against its schema. */
  hparams: Hparams;
  /** The requests, tokenised and checked (checkInputs), in the order they are edited. */
  targets: EditTarget[];
  /** How the requests are edited: each alone, all at once, or one after another. */
  mode: EditMode;
  /** The output folder: the run writes OUT.partial and renames it to OUT when it completes. */
  out: string;
  /** Replace an existing OUT, or start an existing OUT.partial over instead of refusing. */
  force: boolean;
  /** Continue the run left in OUT.partial (refused unless its settings are the same). */
  resume: boolean;
  /** Seed of the fluency metric's sampling. */
  seed: number;
  /** Measure fluency (sampling a continuation of each prompt). */
  fluency: boolean;
  /**
   * The anchor pool (requests, the dev split by default) from which each edit's locality anchors
   * are built (src/edit/anchors.ts); never the evaluated probes.
   */
  anchors: EditRequest[];
  /** Called with each finished record (for printing). */
  onRecord?: (r: RecordResult) => void;
  /** With --resume: how many finished records of the earlier run are kept (not redone). */
  onResumed?: (kept: number) => void;
  /** Called with the method's progress: `step` of `of` in `phase`, with its loss if any. */
  onProgress?: (phase: string, step: number, of: number, loss?: number) => void;
  /** Returns true when the user asked to stop (SIGINT). */
  interrupted?: () => boolean;
  /** Layer groups for attribution, from the memory plan (EditContext.attributionChunks). */
  attributionChunks?: number;
}

/** One request's outcome: a line of OUT.partial/records.jsonl, and metrics.json's perRecord. */
export interface RecordResult {
  /** The request's 0-based index in its file (EditRequest.index). */
  index: number;
  /** The request's subject. */
  subject: string;
  /** The request's prompt. */
  prompt: string;
  /** The request's new target. */
  targetNew: string;
  /**
   * Edit Succ. (in [0, 1]) and the greedy completion (the prompt and at most 8 tokens after it)
   * on the model its edit starts from.
   */
  before: { editSucc: number; completion: string };
  /** Its metrics right after its edit (batch: after the one edit of all), and the completion. */
  after: RecordMetrics & { completion: string };
  /** The edit diverged (NaN/Inf) and the model was restored. */
  rolledBack: boolean;
  /** Wall seconds of the method's apply (batch: an equal share of the one apply). */
  seconds: number;
  /** Weight entries the edit changed (batch: those of the one edit of all requests). */
  paramsChanged: number;
  /** The method's seconds per phase (MethodResult.timings). */
  timings: Record<string, number>;
}

/** What runEdits returns once its outputs are written. */
export interface RunResult {
  /** Every finished record (resumed ones included), by request index. */
  records: RecordResult[];
  /** The means x100 of the records' metrics (metrics.json's mean). */
  summary: Summary;
  /** Final edit succ of every request after the whole sequence (sequential mode). */
  sequentialEditSucc?: number;
  /** Entries in all of the model's parameters (paramsChanged's denominator in metrics.json). */
  paramsTotal: number;
  /** The run stopped at a Ctrl-C: its outputs stay in OUT.partial for --resume. */
  interrupted: boolean;
  /** The folder holding the outputs: OUT, or OUT.partial when interrupted. */
  out: string;
}

/** A finished record as the terminal shows it: request, Edit Succ. before -> after, cost. */
export function recordLine(r: RecordResult): string {
  // A prompt or target with a line break or tab is shown quoted, so the record stays one line.
  const show = (s: string) => (/[\n\t\r]/.test(s) ? JSON.stringify(s) : s);
  return `#${r.index} ${show(r.prompt)} -> ${show(r.targetNew)}: edit succ ${
    (100 * r.before.editSucc).toFixed(0)
  } -> ${(100 * r.after.editSucc).toFixed(0)}, ${r.paramsChanged} params, ${
    r.seconds.toFixed(2)
  } s${r.rolledBack ? " (ROLLED BACK: diverged)" : ""}`;
}

/**
 * A note for a record whose target the model already gave before its edit (Edit Succ. before is
 * 100; in single mode, the unedited model): it is edited anyway, as EasyEdit does, though nothing
 * needed to change. Null for any other record.
 */
export function alreadyAnsweredNote(r: RecordResult): string | null {
  if (r.before.editSucc < 1) return null;
  return `note: #${r.index}: the model already answers ${
    JSON.stringify(r.targetNew)
  } to this prompt before its edit (Edit Succ. before is already 100 for this record); it is ` +
    `edited anyway, as EasyEdit does, and its weights still change`;
}
