// The work shape of an edit run for the memory plan (src/pipeline/plan.ts), counted as run.ts forms
// its rows: the edit rows (one per request in batch mode, else one), and the KL term's anchor
// rows: each edit's anchor candidates (src/edit/anchors.ts, an upper bound of what the model
// keeps), for every request at once in batch mode, plus one row per target token of every
// earlier edit in sequential mode. What the method then does with these rows (its steps, its
// ensemble) is its own to say (EditMethod.planWork).

import type { EditRequest } from "../io/requests.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import { anchorCandidates } from "../edit/anchors.ts";
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
  if (kl) {
    const perEdit = targets.map((t) => anchorCandidates(tok, contextLength, pool, t.request));
    const counts = perEdit.map((a) => a.length);
    // Batch: every request's anchors in one KL term; otherwise one edit's at a time.
    klRows = mode === "batch" ? counts.reduce((a, b) => a + b, 0) : Math.max(0, ...counts);
    // Sequential: one anchor per target token of every earlier edit (prefixes of their rows).
    if (mode === "sequential") klRows += targetTokens;
    klSeqLen = Math.max(
      1,
      ...perEdit.flat().map((a) => a.length),
      ...(mode === "sequential" ? targets.map((t) => t.row.ids.length) : []),
    );
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
  };
}
