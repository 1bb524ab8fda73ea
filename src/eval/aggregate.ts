// Means over records, as the KnowEdit tables report them: each metric is averaged over the
// records that have it (a record with no portability probes does not count as 0), then x100.
// Fluency is the mean n-gram entropy x100 (EasyEdit prints sum(ngram_entropy)/n * 100).

import type { RecordMetrics } from "./record.ts";

export type MetricName = "editSucc" | "generalization" | "portability" | "locality" | "fluency";
export const METRICS: readonly MetricName[] = [
  "editSucc",
  "generalization",
  "portability",
  "locality",
  "fluency",
];
/** Table headings, KnowEdit wording. */
export const METRIC_LABELS: Record<MetricName, string> = {
  editSucc: "Edit Succ.",
  generalization: "Generalization",
  portability: "Portability",
  locality: "Locality",
  fluency: "Fluency",
};

export interface Summary {
  /** Mean x100 over the records that have the metric; absent when none has it. */
  editSucc?: number;
  generalization?: number;
  portability?: number;
  locality?: number;
  fluency?: number;
  /** Per probe kind, mean x100 over the records that have the kind. */
  portabilityByKind: Record<string, number>;
  localityByKind: Record<string, number>;
  /** How many records each mean is over (and the total). */
  counts: Record<MetricName | "records", number>;
}

/** Mean of the defined, finite values; undefined when there is none. */
export function meanDefined(xs: readonly (number | undefined)[]): number | undefined {
  let s = 0, n = 0;
  for (const x of xs) {
    if (x === undefined) continue;
    if (!Number.isFinite(x)) throw new RangeError(`metric value ${x} is not finite`);
    s += x;
    n++;
  }
  return n === 0 ? undefined : s / n;
}

function byKindMeans(maps: (Record<string, number> | undefined)[]): Record<string, number> {
  const acc = new Map<string, number[]>();
  for (const m of maps) {
    if (!m) continue;
    for (const [k, v] of Object.entries(m)) {
      if (!acc.has(k)) acc.set(k, []);
      acc.get(k)!.push(v);
    }
  }
  const out: Record<string, number> = {};
  for (const [k, vs] of acc) {
    Object.defineProperty(out, k, {
      value: meanDefined(vs)! * 100,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Summarise per-record metrics into the table row (means x100). */
export function summarize(records: readonly RecordMetrics[]): Summary {
  const out: Summary = {
    portabilityByKind: byKindMeans(records.map((r) => r.portabilityByKind)),
    localityByKind: byKindMeans(records.map((r) => r.localityByKind)),
    counts: {
      records: records.length,
      editSucc: 0,
      generalization: 0,
      portability: 0,
      locality: 0,
      fluency: 0,
    },
  };
  for (const m of METRICS) {
    const xs = records.map((r) => r[m]);
    out.counts[m] = xs.filter((x) => x !== undefined).length;
    const v = meanDefined(xs);
    if (v !== undefined) out[m] = v * 100;
  }
  return out;
}
