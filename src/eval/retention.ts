// Retention in sequential editing: after every `every`-th edit (and the last) the Edit Succ. of
// each edit made so far is measured; an edit measured `lag` edits after it was made either still
// holds (its value) or not. The curve is the mean over all such measurements by lag: lag 0 is the
// edit right after it was made, lag k after k more edits.

export interface RetentionPoint {
  /** Edits made after the measured one. */
  lag: number;
  /** Mean Edit Succ. x100 of the edits measured at this lag. */
  held: number;
  /** How many measurements the mean is over. */
  n: number;
}

/** One checkpoint: after `made` edits, the Edit Succ. (0..1) of edits 1..made, in order. */
export interface RetentionCheck {
  made: number;
  editSucc: number[];
}

/** Whether the sequence measures its edits after edit `made` of `total` (every `every`). */
export function isRetentionCheck(made: number, total: number, every: number): boolean {
  return made === total || made % every === 0;
}

export function retentionCurve(checks: readonly RetentionCheck[]): RetentionPoint[] {
  const byLag = new Map<number, { sum: number; n: number }>();
  for (const c of checks) {
    c.editSucc.forEach((v, i) => {
      const lag = c.made - (i + 1);
      const e = byLag.get(lag) ?? { sum: 0, n: 0 };
      e.sum += v;
      e.n++;
      byLag.set(lag, e);
    });
  }
  return [...byLag].sort((a, b) => a[0] - b[0])
    .map(([lag, e]) => ({ lag, held: (100 * e.sum) / e.n, n: e.n }));
}
