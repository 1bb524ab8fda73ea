// The run profile (src/pipeline/profile.ts) on hand-made dispatch times: sums per kernel, sorted
// by time, phases summed over records, and the time outside kernels in the printed summary.

import assert from "node:assert/strict";
import { formatProfile, summarizeProfile } from "../../src/pipeline/profile.ts";

Deno.test("summarizeProfile sums kernels and phases; formatProfile shows the time outside", () => {
  const p = summarizeProfile(
    "wasm",
    2,
    [
      { name: "fill", params: [1], ms: 100 },
      { name: "matmul", params: [1, 2, 3, 4], ms: 600 },
      { name: "fill", params: [2], ms: 300 },
    ],
    { uploads: 3, uploadBytes: 4e6, reads: 1, readBytes: 2e6 },
    [{ attribution: 0.5, update: 1 }, { attribution: 0.25 }],
  );
  assert.equal(p.dispatches, 3);
  assert.equal(p.kernelSeconds, 1);
  assert.deepEqual(p.kernels, [
    { name: "matmul", calls: 1, seconds: 0.6 },
    { name: "fill", calls: 2, seconds: 0.4 },
  ]);
  assert.deepEqual(p.phases, { attribution: 0.75, update: 1 });
  assert.equal(
    formatProfile(p),
    [
      "profile (wasm): 2.000 s wall, 1.000 s in 3 dispatches, 1.000 s outside kernels",
      "  phases: attribution 0.750 s, update 1.000 s",
      "  copies: 3 uploads (4.00 MB), 1 reads (2.00 MB)",
      "  kernels: matmul 0.600 s/1, fill 0.400 s/2",
    ].join("\n"),
  );
});
