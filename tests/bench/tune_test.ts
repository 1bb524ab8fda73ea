// bench/tune.ts: the grid expands to every combination, and the selection rule picks the best
// Edit Succ./Generalization among editing trials at the Locality floor, never a no-op, falling
// back to the mean of the three when no trial qualifies.

import { deepEqual, equal } from "node:assert/strict";
import { chooseTrial, gridPoints } from "../../bench/tune.ts";

const trial = (editSucc: number, generalization: number, locality: number, params = 1) => ({
  editSucc,
  generalization,
  locality,
  portability: 0,
  paramsChangedPct: params,
  secondsPerEditMedian: 0,
});

Deno.test("gridPoints is the cartesian product in key order", () => {
  deepEqual(gridPoints({ a: [1, 2], b: ["x", "y", "z"] }).length, 6);
  deepEqual(gridPoints({ a: [1, 2], b: ["x"] }), [{ a: 1, b: "x" }, { a: 2, b: "x" }]);
});

Deno.test("chooseTrial: floor first, no-ops excluded, mean of three as the fallback", () => {
  const noOp = trial(13.5, 14.5, 100, 0);
  const good = trial(95, 90, 91);
  const better = trial(100, 96, 85);
  equal(chooseTrial([noOp, good, better], 90), good);
  const weak = trial(60, 50, 80), strong = trial(75, 55, 79);
  equal(chooseTrial([noOp, weak, strong], 90), strong);
  // Ties on the score go to the trial that changes fewer parameters.
  const small = trial(95, 90, 91, 0.5);
  equal(chooseTrial([good, small], 90), small);
});
