// A tokenised edit target: prompt ids followed by target ids, turned into the teacher-forced
// (input, target) pair the losses and attribution use.

import { BackendError } from "../../engine/backend.ts";

/** A prompt and its answer as one teacher-forced row of inputs and next-token targets. */
export interface TeacherForced {
  /** Token ids fed to the model: prompt ++ target[0..-1]. */
  ids: number[];
  /** Per input position: the next target token, or -1 where only the prompt is predicted. */
  targets: number[];
}

export function teacherForced(
  prompt: number[],
  target: number[],
  contextLength: number,
): TeacherForced {
  if (prompt.length === 0) throw new BackendError("the prompt encodes to no tokens");
  if (target.length === 0) throw new BackendError("the target encodes to no tokens");
  const ids = [...prompt, ...target.slice(0, -1)];
  if (ids.length > contextLength) {
    throw new BackendError(
      `prompt (${prompt.length} tokens) plus target (${target.length} tokens) exceeds the model's ` +
        `context of ${contextLength} tokens`,
    );
  }
  const targets = ids.map((_, i) => (i >= prompt.length - 1 ? target[i - prompt.length + 1] : -1));
  return { ids, targets };
}

/** Right-pads a batch of teacher-forced rows to one length (pad id 0, target -1). */
export function padBatch(
  rows: readonly TeacherForced[],
): { ids: number[]; targets: number[]; t: number } {
  const t = Math.max(...rows.map((r) => r.ids.length));
  const ids: number[] = [], targets: number[] = [];
  for (const r of rows) {
    for (let i = 0; i < t; i++) {
      ids.push(i < r.ids.length ? r.ids[i] : 0);
      targets.push(i < r.targets.length ? r.targets[i] : -1);
    }
  }
  return { ids, targets, t };
}

/**
 * The positions of a padded batch that carry a target, and those targets: what a loss reads,
 * so that only these rows need logits (CausalLM.forward's `rows`).
 */
export function targetRows(targets: readonly number[]): { rows: number[]; targets: number[] } {
  const rows: number[] = [], kept: number[] = [];
  targets.forEach((tg, i) => {
    if (tg < 0) return;
    rows.push(i);
    kept.push(tg);
  });
  return { rows, targets: kept };
}
