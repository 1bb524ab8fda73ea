// 95% bootstrap confidence intervals of the table's metrics: the records are resampled with
// replacement (the same count), each resample summarised as the table is (summarize), and the
// 2.5th and 97.5th percentiles of each metric over the resamples are its interval (percentile
// bootstrap). Seeded, so a run's intervals are reproducible. A claimed win between two methods
// is one whose intervals do not overlap.

import { mulberry32 } from "../random/rng.ts";
import { type MetricName, METRICS, summarize } from "./aggregate.ts";
import type { RecordMetrics } from "./record.ts";

export type Intervals = Partial<Record<MetricName, [number, number]>>;

/** The `q` quantile (0..1) of sorted values, linearly interpolated. */
function quantile(sorted: readonly number[], q: number): number {
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at), hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** Percentile-bootstrap intervals (x100, as the summary) of every metric the records have. */
export function bootstrapIntervals(
  records: readonly RecordMetrics[],
  opts: { samples?: number; seed?: number; level?: number } = {},
): Intervals {
  const samples = opts.samples ?? 1000, level = opts.level ?? 0.95;
  if (records.length === 0) return {};
  const rng = mulberry32(opts.seed ?? 0);
  const draws = new Map<MetricName, number[]>();
  for (let s = 0; s < samples; s++) {
    const resample = records.map(() => records[Math.floor(rng() * records.length)]);
    const sum = summarize(resample);
    for (const m of METRICS) {
      const v = sum[m];
      if (v === undefined) continue;
      const list = draws.get(m) ?? [];
      list.push(v);
      draws.set(m, list);
    }
  }
  const out: Intervals = {};
  for (const [m, vs] of draws) {
    // A metric missing from some resamples (few records have it) gets no interval.
    if (vs.length < samples) continue;
    vs.sort((a, b) => a - b);
    out[m] = [quantile(vs, (1 - level) / 2), quantile(vs, (1 + level) / 2)];
  }
  return out;
}
