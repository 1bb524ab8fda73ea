// The comparison's tables and JSON (scripts/compare.ts) with a method that failed beside one that
// ran: the failed method's cells say "failed" (printed table) or "-" (Markdown), and its JSON has
// null figures. The printed table showed "ms / edit | 12 | 0" and the JSON "msPerEdit": 0, as
// if the failed method had edited in no time.

import assert from "node:assert/strict";
import { summarize } from "../../src/eval/aggregate.ts";
import type { RecordMetrics } from "../../src/eval/record.ts";
import {
  comparisonJson,
  comparisonMarkdown,
  type ComparisonRow,
  comparisonTerminal,
  failedRow,
} from "../../src/report/comparison.ts";

const metrics: RecordMetrics = { editSucc: 1, generalization: 0.5, locality: 1 };

const ran: ComparisonRow = {
  method: "kne",
  label: "KNE",
  summary: summarize([metrics]),
  records: 1,
  msPerEdit: 12.4,
  paramsChanged: 300,
  paramsFraction: 0.001,
  rolledBack: 0,
  out: "out/kne",
};
const failed = failedRow("ft-l", "FT-L", "out/ft-l.partial", "layer 5: the model has 2 layers");
const rows = [ran, failed];
const meta = { model: "m", requests: "r.json", n: 1, backend: "wasm" };

Deno.test("a failed method's ms / edit reads failed in the printed table, not 0", () => {
  const table = comparisonTerminal(rows).split("\n");
  assert.equal(table[0], "| metric | KNE | FT-L |");
  assert.equal(table.at(-1), "| ms / edit | 12 | failed |");
  assert.equal(
    table.find((l) => l.startsWith("| Edit Succ. |")),
    "| Edit Succ. | 100.00 | failed |",
  );
});

Deno.test("a failed method's figures are null in the JSON and '-' in the Markdown table", () => {
  const json = JSON.parse(JSON.stringify(comparisonJson(rows, meta)));
  const [k, f] = json.methods;
  assert.equal(k.msPerEdit, 12.4);
  for (const key of ["msPerEdit", "paramsChanged", "paramsFraction", "rolledBack", "summary"]) {
    assert.equal(f[key], null, key);
  }
  assert.equal(f.error, "layer 5: the model has 2 layers");
  const md = comparisonMarkdown(rows, meta);
  assert.match(md, /^\| ms \/ edit \| 12 \| - \|$/m);
  assert.match(md, /^\| Params changed \| 300 \(0\.10%\) \| - \|$/m);
  assert.match(md, /^- FT-L failed: layer 5: the model has 2 layers$/m);
});
