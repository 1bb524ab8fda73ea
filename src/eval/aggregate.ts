// Means over records, as the KnowEdit tables report them: each metric is averaged over the
// records that have it (a record with no portability probes does not count as 0), then x100.
// Fluency is the mean n-gram entropy x100 (EasyEdit prints sum(ngram_entropy)/n * 100). The
// CounterFact scores (./counterfact.ts) are means x100 too, and their Score is the harmonic mean
// of the three means, as the ROME paper's tables compute it.

import type { RecordMetrics } from "./record.ts";

/** The metrics' names, in table order (METRIC_LABELS gives their headings). */
export const METRICS = [
  "editSucc",
  "generalization",
  "portability",
  "locality",
  "fluency",
  "efficacy",
  "paraphrase",
  "neighborhood",
  "cfScore",
] as const;
/** A metric of a record and of a summary (METRICS). */
export type MetricName = typeof METRICS[number];
/** The metrics averaged from per-record values (the CounterFact Score is derived from three). */
const PER_RECORD = METRICS.filter((m) => m !== "cfScore") as Exclude<MetricName, "cfScore">[];
/** Table headings, KnowEdit wording. */
export const METRIC_LABELS: Record<MetricName, string> = {
  editSucc: "Edit Succ.",
  generalization: "Generalization",
  portability: "Portability",
  locality: "Locality",
  fluency: "Fluency",
  efficacy: "Efficacy (CF)",
  paraphrase: "Paraphrase (CF)",
  neighborhood: "Neighborhood (CF)",
  cfScore: "Score (CF)",
};

/**
 * Each metric's mean x100 over the records that have it, absent when none has it; cfScore is the
 * harmonic mean of efficacy, paraphrase and neighborhood (absent unless all three are).
 */
export interface Summary extends Partial<Record<MetricName, number>> {
  /** Per probe kind, mean x100 over the records that have the kind. */
  portabilityByKind: Record<string, number>;
  /** Locality per probe kind, mean x100 over the records that have the kind. */
  localityByKind: Record<string, number>;
  /** How many records each mean is over (and the total). */
  counts: Record<MetricName | "records", number>;
}

/** The median of `xs` (the mean of the two middle values for an even count); 0 for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
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
      ...Object.fromEntries(METRICS.map((m) => [m, 0])) as Record<MetricName, number>,
    },
  };
  for (const m of PER_RECORD) {
    const xs = records.map((r) => r[m]);
    out.counts[m] = xs.filter((x) => x !== undefined).length;
    const v = meanDefined(xs);
    if (v !== undefined) out[m] = v * 100;
  }
  const cf = [out.efficacy, out.paraphrase, out.neighborhood];
  if (cf.every((x) => x !== undefined)) {
    const parts = cf as number[];
    out.cfScore = parts.some((x) => x === 0) ? 0 : 3 / parts.reduce((a, x) => a + 1 / x, 0);
    out.counts.cfScore = Math.min(
      out.counts.efficacy,
      out.counts.paraphrase,
      out.counts.neighborhood,
    );
  }
  return out;
}
