// The side-by-side comparison of editing methods (scripts/compare.ts): a Markdown table laid out
// like the KnowEdit / KNE papers' (metrics as rows, methods as columns, means x100), its JSON,
// and a grouped bar chart of the four percentage metrics (fluency, an entropy x100, has its own
// scale and stays in the table), and the shorter table the command prints. A comparison cut short
// says so in its table's first line and its chart's title. A method that failed has no figures:
// "failed" or "-" in the tables, null in the JSON (never a 0 that reads as a measurement).

import { METRIC_LABELS, METRICS, type Summary } from "../eval/aggregate.ts";
import type { Intervals } from "../eval/bootstrap.ts";
import { barChartSvg } from "./bars.ts";

export interface ComparisonRow {
  /** Method name (--methods) and its table label. */
  method: string;
  label: string;
  /** Null when the method failed (see error). */
  summary: Summary | null;
  /** 95% bootstrap intervals per metric (absent for runs written before they existed). */
  ci95?: Intervals;
  records: number;
  /** Mean wall time of the method's apply() per edit; null when the method failed. */
  msPerEdit: number | null;
  /** Mean parameters changed per edit, and as a fraction of all parameters (null: failed). */
  paramsChanged: number | null;
  paramsFraction: number | null;
  /** Records whose edit was rolled back (null: failed). */
  rolledBack: number | null;
  /** The method's run folder; for a failed method the folder it left (OUT/<method>.partial), or
   * null when it left none. */
  out: string | null;
  error?: string;
}

export interface ComparisonMeta {
  model: string;
  requests: string;
  n: number;
  backend: string;
}

/** A comparison stopped before its last method: how many of its methods have a row. */
export interface Interruption {
  done: number;
  of: number;
}

/**
 * The row of a method that failed, with its message and the folder it left (null: none): no
 * figures (null), so that neither the tables nor the JSON show a 0 it never measured.
 */
export function failedRow(
  method: string,
  label: string,
  out: string | null,
  error: string,
): ComparisonRow {
  return {
    method,
    label,
    summary: null,
    records: 0,
    msPerEdit: null,
    paramsChanged: null,
    paramsFraction: null,
    rolledBack: null,
    out,
    error,
  };
}

function fmt(v: number | null | undefined, digits = 2): string {
  return v === undefined || v === null || !Number.isFinite(v) ? "n/a" : v.toFixed(digits);
}

/** A mean with its 95% interval when there is one: "92.20 [88.1, 95.6]". */
export function cell(v: number | undefined, ci?: [number, number]): string {
  if (v === undefined || !Number.isFinite(v)) return "n/a";
  return ci ? `${v.toFixed(2)} [${ci[0].toFixed(1)}, ${ci[1].toFixed(1)}]` : v.toFixed(2);
}

function fmtCount(v: number | null): string {
  return v === null ? "n/a" : Math.round(v).toLocaleString("en-US");
}

function fmtFraction(f: number | null): string {
  if (f === null) return "n/a";
  if (f === 0) return "0%";
  const p = 100 * f;
  return p >= 0.01 ? `${p.toFixed(2)}%` : `${p.toExponential(1)}%`;
}

/** The first line of an interrupted comparison's table. */
export function interruptedLine(i: Interruption): string {
  return `INTERRUPTED: ${i.done} of ${i.of} methods; rerun the same command with --resume to ` +
    `finish the comparison.`;
}

/** Where a method's outputs are, for the table's last line. */
function outputOf(r: ComparisonRow): string {
  if (!r.error) return `\`${r.out}\``;
  return r.out === null ? `${r.label} failed (no output)` : `\`${r.out}\` (${r.label} failed)`;
}

/**
 * The Markdown table (with a heading line naming the model and requests), after a line saying so
 * when the comparison was interrupted.
 */
export function comparisonMarkdown(
  rows: readonly ComparisonRow[],
  meta: ComparisonMeta,
  interrupted?: Interruption,
): string {
  const cols = rows.map((r) => r.label);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const out: string[] = [
    ...(interrupted ? [interruptedLine(interrupted), ""] : []),
    `# Editing methods side by side`,
    "",
    `Model \`${meta.model}\`, ${meta.n} request(s) from \`${meta.requests}\`, single edits ` +
    `(each from the unedited model), backend ${meta.backend}. Means over records x100 ` +
    `(KnowEdit definitions; rows marked CF are the CounterFact scores, Score their harmonic ` +
    `mean); fluency is the weighted 2/3-gram entropy x100. In brackets: the 95% bootstrap ` +
    `interval over the records (a win is claimed only where intervals do not overlap).`,
    "",
    line(["Metric", ...cols]),
    line(["---", ...cols.map(() => "---:")]),
  ];
  const s = (r: ComparisonRow) => r.summary as unknown as Record<string, number | undefined>;
  for (const m of METRICS) {
    out.push(
      line([
        METRIC_LABELS[m],
        ...rows.map((r) => (r.summary ? cell(s(r)[m], r.ci95?.[m]) : "failed")),
      ]),
    );
  }
  out.push(
    line([
      "Params changed",
      ...rows.map((r) =>
        r.summary ? `${fmtCount(r.paramsChanged)} (${fmtFraction(r.paramsFraction)})` : "-"
      ),
    ]),
  );
  out.push(line(["ms / edit", ...rows.map((r) => (r.summary ? fmt(r.msPerEdit, 0) : "-"))]));
  out.push(line(["Rolled back", ...rows.map((r) => (r.summary ? String(r.rolledBack) : "-"))]));
  const failed = rows.filter((r) => r.error);
  if (failed.length > 0) {
    out.push("");
    for (const r of failed) out.push(`- ${r.label} failed: ${r.error}`);
  }
  out.push("");
  out.push(`Per-method outputs: ${rows.map(outputOf).join(", ")}.`);
  return out.join("\n") + "\n";
}

/** The metric rows and ms / edit as the command prints them; a failed method's cells say so. */
export function comparisonTerminal(rows: readonly ComparisonRow[]): string {
  const s = (r: ComparisonRow) => r.summary as unknown as Record<string, number | undefined>;
  const line = (label: string, f: (r: ComparisonRow) => string) =>
    `| ${label} | ${rows.map((r) => (r.summary ? f(r) : "failed")).join(" | ")} |`;
  return [
    `| metric | ${rows.map((r) => r.label).join(" | ")} |`,
    `|---|${rows.map(() => "---:").join("|")}|`,
    ...METRICS.map((m) => line(METRIC_LABELS[m], (r) => cell(s(r)[m], r.ci95?.[m]))),
    line("ms / edit", (r) => fmt(r.msPerEdit, 0)),
  ].join("\n");
}

/** JSON form of the comparison. */
export function comparisonJson(rows: readonly ComparisonRow[], meta: ComparisonMeta): unknown {
  return {
    ...meta,
    metrics: [...METRICS],
    methods: rows.map((r) => ({ ...r })),
  };
}

/** Grouped bars: every metric but fluency (KnowEdit and CounterFact), one bar per method. */
export function comparisonSvg(
  rows: readonly ComparisonRow[],
  meta: ComparisonMeta,
  interrupted?: Interruption,
): string {
  const metrics = METRICS.filter((m) => m !== "fluency");
  const cut = interrupted ? `INTERRUPTED (${interrupted.done} of ${interrupted.of} methods): ` : "";
  return barChartSvg({
    title: `${cut}Editing methods on ${meta.model} (${meta.n} request${meta.n === 1 ? "" : "s"})`,
    groups: metrics.map((m) => METRIC_LABELS[m]),
    series: rows.map((r) => ({
      name: r.label,
      values: metrics.map((m) =>
        r.summary ? (r.summary as unknown as Record<string, number | undefined>)[m] : undefined
      ),
    })),
    yMin: 0,
    yMax: 100,
    yLabel: "score (x100)",
  });
}
