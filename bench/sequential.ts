// Sequential editing compared across methods, from finished `deno task edit --mode sequential`
// runs: per method the Edit Succ. of each edit when it was made, how many still hold after the
// last edit, Generalization, Portability and Locality (against the original model), and the
// retention curve binned by how many edits came after (lag), as one Markdown table, a JSON file
// and a grouped bar chart (retention.svg) in OUT.
//
//   deno run -A bench/sequential.ts --out bench/sequential RUN_DIR [RUN_DIR ...]

import { join } from "node:path";
import { parseArgs } from "node:util";
import type { RetentionPoint } from "../src/eval/retention.ts";
import { barChartSvg } from "../src/report/bars.ts";

/** Lag bins of the chart and table: [first, last] edits made after the measured one. */
export const LAG_BINS: readonly (readonly [number, number])[] = [
  [0, 0],
  [1, 9],
  [10, 49],
  [50, 99],
  [100, 199],
];

/** The curve's mean Edit Succ. over each bin's lags (weighted by measurements); null if none. */
export function binRetention(
  curve: readonly RetentionPoint[],
  bins: readonly (readonly [number, number])[] = LAG_BINS,
): (number | null)[] {
  return bins.map(([lo, hi]) => {
    let sum = 0, n = 0;
    for (const p of curve) if (p.lag >= lo && p.lag <= hi) (sum += p.held * p.n, n += p.n);
    return n > 0 ? sum / n : null;
  });
}

const binLabel = ([lo, hi]: readonly [number, number]) => (lo === hi ? `${lo}` : `${lo}-${hi}`);

interface RunSummary {
  method: string;
  records: number;
  editSucc: number;
  heldAtEnd: number;
  generalization: number;
  portability: number;
  locality: number;
  secondsPerEdit: number;
  retention: (number | null)[];
}

async function summarize(dir: string): Promise<RunSummary> {
  const m = JSON.parse(await Deno.readTextFile(join(dir, "metrics.json")));
  if (m.mode !== "sequential" || !Array.isArray(m.retention)) {
    throw new Error(`${dir}: not a finished sequential run (mode ${m.mode})`);
  }
  return {
    method: m.method,
    records: m.records,
    editSucc: m.mean.editSucc,
    heldAtEnd: m.sequentialEditSucc,
    generalization: m.mean.generalization,
    portability: m.mean.portability,
    locality: m.mean.locality,
    secondsPerEdit: m.secondsPerEdit.median,
    retention: binRetention(m.retention),
  };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string" } },
    allowPositionals: true,
  });
  if (!values.out || positionals.length === 0) {
    console.error("usage: deno run -A bench/sequential.ts --out DIR RUN_DIR [RUN_DIR ...]");
    Deno.exit(2);
  }
  const runs = await Promise.all(positionals.map(summarize));
  const f = (v: number | null) => (v === null ? "n/a" : v.toFixed(1));
  const table = [
    `| Method | edits | Edit Succ. when made | still held after the last | Gen. | Port. | Loc. | s / edit | ${
      LAG_BINS.map((b) => `held, lag ${binLabel(b)}`).join(" | ")
    } |`,
    `| --- | --: | --: | --: | --: | --: | --: | --: | ${LAG_BINS.map(() => "--:").join(" | ")} |`,
    ...runs.map((r) =>
      `| ${r.method} | ${r.records} | ${f(r.editSucc)} | ${f(r.heldAtEnd)} | ${
        f(r.generalization)
      } | ${f(r.portability)} | ${f(r.locality)} | ${r.secondsPerEdit.toFixed(2)} | ${
        r.retention.map(f).join(" | ")
      } |`
    ),
  ].join("\n");
  await Deno.mkdir(values.out, { recursive: true });
  await Deno.writeTextFile(join(values.out, "sequential.md"), table + "\n");
  await Deno.writeTextFile(
    join(values.out, "sequential.json"),
    JSON.stringify(runs, null, 2) + "\n",
  );
  await Deno.writeTextFile(
    join(values.out, "retention.svg"),
    barChartSvg({
      title: "Sequential editing: Edit Succ. of an edit after k more edits",
      groups: LAG_BINS.map((b) => `k = ${binLabel(b)}`),
      series: runs.map((r) => ({ name: r.method, values: r.retention })),
      yMax: 100,
    }),
  );
  console.log(table);
}
