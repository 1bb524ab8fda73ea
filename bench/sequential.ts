// Sequential editing compared across methods, from finished `deno task edit --mode sequential`
// runs: per method the Edit Succ. of each edit when it was made, how many still hold after the
// last edit, Generalization, Portability and Locality (against the original model), and the
// retention curve binned by how many edits came after (lag), as one Markdown table, a JSON file
// and a grouped bar chart (retention.svg) in OUT. A run may be labelled (LABEL=RUN_DIR; default:
// its method's name), and --previous keeps the rows of an earlier sequential.json (a new row of
// the same label replaces one), so a method rerun with other settings joins the runs already made.
//
//   deno run -A bench/sequential.ts --out bench/sequential [--previous FILE] [LABEL=]RUN_DIR ...

import { join } from "node:path";
import { parseArgs } from "node:util";
import type { RetentionPoint } from "../src/eval/retention.ts";
import { barChartSvg } from "../src/report/bars.ts";
import { exitWithError } from "../src/cli/fail.ts";
import { fsReason, jsonReason, readRegularText } from "../src/io/files.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import {
  checkNotInsideModel,
  GuardError,
  isModelFolder,
  realish,
} from "../src/pipeline/output-guard.ts";

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

/** The summary of a finished run, `DIR` or `LABEL=DIR` (the row's label; default: the method). */
async function summarize(arg: string): Promise<RunSummary> {
  const eq = arg.indexOf("=");
  const [label, dir] = eq >= 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [null, arg];
  if (label === "" || dir === "") throw new Error(`"${arg}": expected RUN_DIR or LABEL=RUN_DIR`);
  const file = join(dir, "metrics.json");
  let m;
  try {
    m = JSON.parse(await readRegularText(file));
  } catch (e) {
    throw new Error(`${file}: ${e instanceof SyntaxError ? jsonReason(e) : fsReason(e)}`);
  }
  if (
    m?.mode !== "sequential" || !Array.isArray(m.retention) || typeof m.mean !== "object" ||
    typeof m.secondsPerEdit?.median !== "number"
  ) {
    throw new Error(`${dir}: not a finished sequential run (mode ${m?.mode})`);
  }
  return {
    method: label ?? m.method,
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

/** The earlier rows, each replaced by a new one of the same label, then the other new rows. */
export function joinRuns<R extends { method: string }>(
  previous: readonly R[],
  fresh: readonly R[],
): R[] {
  return [
    ...previous.map((p) => fresh.find((r) => r.method === p.method) ?? p),
    ...fresh.filter((r) => !previous.some((p) => p.method === r.method)),
  ];
}

const USAGE = "deno run -A bench/sequential.ts --out DIR [--previous FILE] [LABEL=]RUN_DIR ...";

/**
 * Refuses an --out that would overwrite what it reads or a model's files: one of the runs (its
 * own retention.svg was replaced by the comparison's chart), or a model folder or one inside it.
 */
async function checkOut(out: string, runArgs: string[]): Promise<void> {
  const real = await realish(out);
  for (const arg of runArgs) {
    const dir = arg.slice(arg.indexOf("=") + 1);
    if (dir !== "" && real === await realish(dir)) {
      throw new GuardError(`--out ${out} is one of the runs it reads (${arg}); choose another`);
    }
  }
  if (await isModelFolder(real)) {
    throw new GuardError(`--out ${out} is a model folder; choose another --out`);
  }
  await checkNotInsideModel(out);
}

/** The table, JSON and chart of `runs` (and the --previous file's rows) in `out`. */
async function report(out: string, previousFile: string | undefined, runDirs: string[]) {
  await checkOut(out, runDirs);
  const fresh = await Promise.all(runDirs.map(summarize));
  let previous: RunSummary[] = [];
  if (previousFile) {
    try {
      previous = JSON.parse(await readRegularText(previousFile));
    } catch (e) {
      throw new Error(`--previous ${previousFile}: ${jsonReason(e)}`);
    }
    if (!Array.isArray(previous)) throw new Error(`--previous ${previousFile}: not a list of rows`);
  }
  const runs = joinRuns(previous, fresh);
  // A metric no record had (a sequence without rephrases or probes) is absent from metrics.json.
  const f = (v: number | null | undefined) => (v == null ? "n/a" : v.toFixed(1));
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
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(join(out, "sequential.md"), table + "\n");
  await Deno.writeTextFile(
    join(out, "sequential.json"),
    JSON.stringify(runs, null, 2) + "\n",
  );
  await Deno.writeTextFile(
    join(out, "retention.svg"),
    barChartSvg({
      title: "Sequential editing: Edit Succ. of an edit after k more edits",
      groups: LAG_BINS.map((b) => `k = ${binLabel(b)}`),
      series: runs.map((r) => ({ name: r.method, values: r.retention })),
      yMax: 100,
    }),
  );
  console.log(table);
}

if (import.meta.main) {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        out: { type: "string" },
        previous: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
  } catch (e) {
    exitWithError((e as Error).message, 2, `Usage: ${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(`Usage: ${USAGE}`);
    Deno.exit(0);
  }
  if (!values.out || positionals.length === 0) {
    exitWithError("give --out DIR and at least one run", 2, `Usage: ${USAGE}`);
  }
  await runCommand(async () => {
    try {
      await report(values.out!, values.previous, positionals);
    } catch (e) {
      if (e instanceof GuardError) exitWithError(e.message, 2);
      throw e;
    }
  });
}
