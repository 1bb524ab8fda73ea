// The work shape of an edit run for the memory plan (src/plan/plan.ts), counted as run.ts forms
// its rows: the edit rows (one per request in batch mode, else one), and the KL term's anchor
// rows: each edit's anchor candidates (src/edit/anchors.ts, an upper bound of what the model
// keeps), for every request at once in batch mode, plus one row per target token of every
// earlier edit in sequential mode, in the length buckets the KL term forwards them in (the
// edit whose buckets hold the most padded tokens). What the method then does with these rows
// (its steps, its ensemble) is its own to say (EditMethod.planWork).

import type { EditRequest } from "../io/requests.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import { anchorCandidates } from "../edit/anchors.ts";
import { lengthBuckets } from "../kne/locality.ts";
import type { EditTarget, WorkShape } from "../edit/method.ts";

export function workOf(
  targets: readonly EditTarget[],
  pool: readonly EditRequest[],
  tok: Tokenizer,
  contextLength: number,
  mode: string,
  /** Whether the method reads locality anchors (EditMethod.usesAnchors). */
  kl: boolean,
): WorkShape {
  const targetTokens = targets.reduce((n, t) => n + t.targetIds.length, 0);
  let klRows = 0, klSeqLen = 1;
  let klBatches: { rows: number; seqLen: number }[] = [];
  if (kl) {
    const perEdit = targets.map((t) => {
      const { others, swapped } = anchorCandidates(tok, contextLength, pool, t.request);
      return [...others, ...swapped];
    });
    // Sequential: one anchor per target token of every edit before (prefixes of their rows;
    // all of them bound what the last edit sees).
    const edited = mode === "sequential"
      ? targets.flatMap((t) => t.targetIds.map((_, k) => t.promptIds.length + k))
      : [];
    // Batch: every request's anchors in one KL term; otherwise one edit's at a time.
    const terms = mode === "batch"
      ? [perEdit.flat().map((a) => a.length)]
      : perEdit.map((a) => [...a.map((x) => x.length), ...edited]);
    const padded = (bs: number[][]) => bs.reduce((n, b) => n + b.length * Math.max(...b), 0);
    const buckets = terms.map((lengths) => lengthBuckets(lengths.map((n) => new Array(n))))
      .map((bs) => bs.map((b) => b.map((x) => x.length)))
      .reduce((best, bs) => padded(bs) > padded(best) ? bs : best, [] as number[][]);
    klBatches = buckets.map((b) => ({ rows: b.length, seqLen: Math.max(...b) }));
    klRows = klBatches.reduce((n, b) => n + b.rows, 0);
    klSeqLen = Math.max(1, ...klBatches.map((b) => b.seqLen));
  }
  return {
    seqLen: Math.max(1, ...targets.map((t) => t.row.ids.length)),
    targetTokens: mode === "batch"
      ? targetTokens
      : Math.max(1, ...targets.map((t) => t.targetIds.length)),
    klSeqLen,
    batch: mode === "batch" ? targets.length : 1,
    igSteps: 1,
    klRows,
    klBatches,
  };
}
