// bench:train's table without --json (bench/train/table.ts): one aligned line per shape under its
// header, the peer's figures or "-" where PyTorch was not measured, and a line saying what the
// peer was or why it is missing. The rows used to be printed as Deno's dump of each object.

import assert from "node:assert/strict";
import { peerNote, tableHeader, tableRow, type TrainRow } from "../../bench/train/table.ts";

const measured: TrainRow = {
  shape: "base-llama",
  params: 10541312,
  batch: 16,
  rowTokens: 128,
  secondsPerStep: 5.9,
  tokensPerSecond: 344,
  pytorch: { secondsPerStep: 29.61, tokensPerSecond: 69, torch: "2.1.0", threads: 2, ratio: 4.97 },
  backend: "WebAssembly SIMD (2 threads)",
};
const unmeasured: TrainRow = {
  ...measured,
  shape: "facts",
  params: 976768,
  pytorch: { note: "PyTorch: not measured (no python3 here imports torch)" },
};

/** Where each column of `line` ends (the last character of each run of non-spaces). */
const ends = (line: string) =>
  [...line.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index + m[0].length);

Deno.test("bench:train's table: a header and one aligned line per shape", () => {
  const header = tableHeader();
  assert.equal(
    header,
    "shape           params  batch  tokens/row   s/step   tokens/s  torch s/step  torch tokens/s  ratio",
  );
  const row = tableRow(measured);
  assert.equal(
    row,
    "base-llama    10541312     16         128    5.900        344        29.610              69   4.97",
  );
  // The figures end under their headers (the first column starts under its header).
  assert.deepEqual(ends(row).slice(1), ends(header).slice(1));
  const bare = tableRow(unmeasured);
  assert.match(bare, /^facts +976768 .* 344 +- +- +-$/);
  assert.deepEqual(ends(bare).slice(1), ends(header).slice(1));
});

Deno.test("bench:train's table: the peer's version and threads, or why it was not measured", () => {
  assert.equal(peerNote(measured), "torch: PyTorch 2.1.0 CPU, 2 threads");
  assert.equal(peerNote(unmeasured), "PyTorch: not measured (no python3 here imports torch)");
});
