// The retention curve (src/eval/retention.ts) on hand-made checkpoints: means by lag over every
// checkpoint that measured an edit at that lag, and the checkpoint schedule.

import assert from "node:assert/strict";
import { isRetentionCheck, retentionCurve } from "../../src/eval/retention.ts";

Deno.test("retention: means by lag over the checkpoints; the schedule", () => {
  const curve = retentionCurve([
    { made: 2, editSucc: [1, 1] },
    { made: 4, editSucc: [0, 1, 1, 0.5] },
  ]);
  assert.deepEqual(curve, [
    { lag: 0, held: 75, n: 2 }, // edit 2 after 2 edits (1), edit 4 after 4 (0.5)
    { lag: 1, held: 100, n: 2 }, // edit 1 after 2, edit 3 after 4
    { lag: 2, held: 100, n: 1 },
    { lag: 3, held: 0, n: 1 },
  ]);
  assert.deepEqual(
    [1, 2, 3, 4, 5].filter((k) => isRetentionCheck(k, 5, 2)),
    [2, 4, 5],
  );
});
