// Bootstrap intervals (src/eval/bootstrap.ts): equal records give a zero-width interval at their
// value; the interval contains the mean and narrows with more records; the seed makes it
// reproducible; a metric only some records have gets none when a resample can miss it all.

import assert from "node:assert/strict";
import { bootstrapIntervals } from "../../src/eval/bootstrap.ts";
import type { RecordMetrics } from "../../src/eval/record.ts";

const rec = (editSucc: number, extra: Partial<RecordMetrics> = {}) =>
  ({ editSucc, ...extra }) as RecordMetrics;

Deno.test("bootstrap: equal records, a half-half metric, seeds and missing metrics", () => {
  assert.deepEqual(bootstrapIntervals([rec(1), rec(1), rec(1)]).editSucc, [100, 100]);
  const half = (n: number) => Array.from({ length: n }, (_, i) => rec(i % 2));
  const [lo, hi] = bootstrapIntervals(half(40), { seed: 3 }).editSucc!;
  assert.ok(lo < 50 && 50 < hi, `[${lo}, ${hi}]`);
  // The binomial standard error at n = 40 is 7.9 points: the 95% interval is about +-15.5.
  assert.ok(hi - lo > 20 && hi - lo < 42, `width ${hi - lo}`);
  const [lo4, hi4] = bootstrapIntervals(half(400), { seed: 3 }).editSucc!;
  assert.ok(hi4 - lo4 < (hi - lo) / 2, `n=400 width ${hi4 - lo4} vs ${hi - lo}`);
  assert.deepEqual(
    bootstrapIntervals(half(40), { seed: 3 }),
    bootstrapIntervals(half(40), { seed: 3 }),
  );
  // Portability on one record of 30: most resamples lack it, so no interval.
  const sparse = [rec(1, { portability: 1 }), ...Array.from({ length: 29 }, () => rec(1))];
  assert.equal(bootstrapIntervals(sparse).portability, undefined);
  assert.deepEqual(bootstrapIntervals([]), {});
});
