// Several requests edited in memory, through the edit loop of `deno task edit --mode
// batch|sequential` (src/loop/edit-loop.ts), without files: batch applies the method once to all
// of them; sequential applies it to one after another on the model the earlier edits left, KNE's
// KL term anchored also on the earlier edits' prompts and targets. Every request's locality
// baseline comes from the model before the first edit, as EasyEdit measures it; a sequence also
// reports the Edit Succ. of every edit after the last one. The changes are returned merged
// (before: the model before the first edit; after: after the last), so one revert restores it
// bit for bit and one patch holds them all.

import type { Hparams } from "../edit/method.ts";
import { EditInputError } from "../edit/targets.ts";
import type { RecordMetrics } from "../eval/record.ts";
import { mergeChanges, type TensorChange } from "../io/patch.ts";
import type { EditRequest } from "../io/requests.ts";
import { editInMemory, type EditOptions } from "./edit.ts";
import type { SessionModel } from "./load.ts";
import { oneAtATime } from "./serial.ts";

/** How editMany edits: all requests in one edit (batch), or one after another (sequential). */
export type ManyMode = "batch" | "sequential";

/** One request of an editMany() call and what its edit did (metrics in [0, 1]). */
export interface ManyRecord {
  /** The request as edited (white space ending its prompts and subject removed). */
  request: EditRequest;
  /**
   * Its Edit Succ. and the prompt's greedy completion on the model its edit starts from (batch:
   * the unedited one; sequential: the one the earlier edits left).
   */
  before: { editSucc: number; completion: string };
  /** The prompt's greedy completion right after its edit (batch: after the one edit of all). */
  after: { completion: string };
  /** The request's metrics right after its edit (batch: after the one edit of all). */
  metrics: RecordMetrics;
  /** Its edit diverged (NaN/Inf) and was undone (batch: the one edit of all). */
  rolledBack: boolean;
}

/** What editMany() did: each request's record, and the merged changes, already applied. */
export interface ManyOutcome {
  /** The method's name. */
  method: string;
  /** The hyperparameters it ran with: the given ones over its defaults. */
  hparams: Hparams;
  /** The mode the requests were edited in. */
  mode: ManyMode;
  /** One record per request, in the order given. */
  records: ManyRecord[];
  /** Sequential: the Edit Succ. of every request after the last edit (retention). */
  endEditSucc?: number[];
  /** All the edits' changes merged; they are applied to the model when editMany() returns. */
  changes: TensorChange[];
  /** Wall seconds of the method's applies alone. */
  seconds: number;
}

/**
 * Edits `m.model` in place with `requests` in `mode`; revertChanges(m, outcome.changes) undoes it
 * all. Runs after the library's calls made before it have settled (./serial.ts).
 */
export function editMany(
  m: SessionModel,
  requests: readonly EditRequest[],
  opts: EditOptions & { mode: ManyMode },
): Promise<ManyOutcome> {
  return oneAtATime(() => editAll(m, requests, opts));
}

/** The modes editMany takes (single mode keeps no edit: edit() each request instead). */
const MANY_MODES: readonly string[] = ["batch", "sequential"] satisfies ManyMode[];

async function editAll(
  m: SessionModel,
  requests: readonly EditRequest[],
  opts: EditOptions & { mode: ManyMode },
): Promise<ManyOutcome> {
  // Any other mode ran the loop's single mode: each edit reverted, no changes returned.
  if (!MANY_MODES.includes(opts?.mode)) {
    throw new EditInputError(
      `editMany: mode must be "batch" or "sequential", got ${JSON.stringify(opts?.mode)} ` +
        "(edit() edits one request)",
    );
  }
  // None reached the method, whose first tensor failed ("invalid shape [0, -Infinity]").
  if (requests.length === 0) throw new EditInputError("editMany: no requests to edit");
  const { method, hparams, records, outcome } = await editInMemory(m, requests, opts.mode, opts);
  return {
    method: method.name,
    hparams,
    mode: opts.mode,
    records: records.map((r) => ({
      request: r.target.request,
      before: r.before,
      after: r.after,
      metrics: r.metrics,
      rolledBack: r.result.rolledBack,
    })),
    endEditSucc: outcome.endEditSucc,
    changes: mergeChanges(outcome.applied),
    seconds: outcome.seconds,
  };
}
