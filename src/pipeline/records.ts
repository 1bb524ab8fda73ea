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

export interface RunOptions {
  model: CausalLM;
  modelDir: string;
  /** Each parameter's dtype in the checkpoint at modelDir (LoadedModel.storedDtypes). */
  storedDtypes: SourceDtypes;
  tokenizer: Tokenizer;
  method: EditMethod;
  hparams: Hparams;
  targets: EditTarget[];
  mode: EditMode;
  out: string;
  force: boolean;
  resume: boolean;
  seed: number;
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
  onProgress?: (phase: string, step: number, of: number, loss?: number) => void;
  /** Returns true when the user asked to stop (SIGINT). */
  interrupted?: () => boolean;
  /** Layer groups for attribution, from the memory plan (EditContext.attributionChunks). */
  attributionChunks?: number;
}

export interface RecordResult {
  index: number;
  subject: string;
  prompt: string;
  targetNew: string;
  before: { editSucc: number; completion: string };
  after: RecordMetrics & { completion: string };
  rolledBack: boolean;
  seconds: number;
  paramsChanged: number;
  timings: Record<string, number>;
}

export interface RunResult {
  records: RecordResult[];
  summary: Summary;
  /** Final edit succ of every request after the whole sequence (sequential mode). */
  sequentialEditSucc?: number;
  paramsTotal: number;
  interrupted: boolean;
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
