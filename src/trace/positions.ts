// Averages causal traces over facts by token position group, as the ROME paper's figures do:
// the first subject token, the middle subject tokens, the last subject token, the first token
// after the subject, further tokens, and the prompt's last token. A one-token subject counts as
// both first and last subject token; the prompt's last token belongs to "last token" only.

import type { FactTrace, TraceKind } from "./causal-trace.ts";
import { TRACE_KINDS } from "./causal-trace.ts";

export const POSITION_GROUPS = [
  "first subject token",
  "middle subject tokens",
  "last subject token",
  "first subsequent token",
  "further tokens",
  "last token",
] as const;
export type PositionGroup = typeof POSITION_GROUPS[number];

/** The groups of position `i` in a prompt of `t` tokens whose subject spans [s0, s1). */
export function groupsOf(i: number, t: number, [s0, s1]: [number, number]): PositionGroup[] {
  if (i === t - 1) return ["last token"];
  const out: PositionGroup[] = [];
  if (i === s0) out.push("first subject token");
  if (i > s0 && i < s1 - 1) out.push("middle subject tokens");
  if (i === s1 - 1) out.push("last subject token");
  if (i === s1) out.push("first subsequent token");
  if (i > s1) out.push("further tokens");
  return out;
}

/**
 * Mean indirect effect per kind, position group and layer (NaN where no fact has the group); with
 * `of`, the mean of another per-kind [position][layer] quantity of the traces (their norms).
 */
export function averageByGroup(
  traces: readonly FactTrace[],
  of: (tr: FactTrace) => Record<TraceKind, number[][]> = (tr) => tr.effects,
): Record<TraceKind, Record<PositionGroup, number[]>> {
  const layers = traces[0]?.effects.resid[0]?.length ?? 0;
  const out = {} as Record<TraceKind, Record<PositionGroup, number[]>>;
  for (const kind of TRACE_KINDS) {
    const sums = new Map<PositionGroup, { sum: number[]; n: number }>();
    for (const tr of traces) {
      const t = tr.tokens.length;
      // A fact contributes one value per group: the mean over its positions in the group.
      const perFact = new Map<PositionGroup, { sum: number[]; n: number }>();
      for (let i = 0; i < t; i++) {
        for (const g of groupsOf(i, t, tr.subject)) {
          const acc = perFact.get(g) ?? { sum: new Array(layers).fill(0), n: 0 };
          of(tr)[kind][i].forEach((e, l) => acc.sum[l] += e);
          acc.n++;
          perFact.set(g, acc);
        }
      }
      for (const [g, acc] of perFact) {
        const total = sums.get(g) ?? { sum: new Array(layers).fill(0), n: 0 };
        acc.sum.forEach((s, l) => total.sum[l] += s / acc.n);
        total.n++;
        sums.set(g, total);
      }
    }
    out[kind] = Object.fromEntries(POSITION_GROUPS.map((g) => {
      const acc = sums.get(g);
      return [g, acc ? acc.sum.map((s) => s / acc.n) : new Array(layers).fill(NaN)];
    })) as Record<PositionGroup, number[]>;
  }
  return out;
}
