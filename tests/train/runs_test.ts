// The runs a model was trained in (src/train/runs.ts): a fresh run opens the list, a resumed run
// adds itself after the checkpoint's runs, a checkpoint from before the list was kept counts as one
// run of unknown command, and each entry's steps and seconds are its own share of the state's.

import assert from "node:assert/strict";
import type { TrainState } from "../../src/train/checkpoint.ts";
import { beginRun, recordRun } from "../../src/train/runs.ts";

function state(step: number, seconds: number): TrainState {
  return {
    step,
    epoch: 0,
    cursor: 0,
    seed: 0,
    config: {} as TrainState["config"],
    losses: [],
    seconds,
    tokens: 0,
  };
}

Deno.test("runs: a fresh run, then two resumed runs, each with its own steps and seconds", () => {
  const s = state(0, 0);
  beginRun(s, "deno task train");
  Object.assign(s, { step: 40, seconds: 100 });
  recordRun(s); // a checkpoint at step 40
  // Resumed from that checkpoint (its state as saved), twice.
  const r = structuredClone(s);
  beginRun(r, "deno task train --epochs 50 --resume");
  Object.assign(r, { step: 50, seconds: 130 });
  recordRun(r);
  const t = structuredClone(r);
  beginRun(t, "deno task train --epochs 60 --resume");
  Object.assign(t, { step: 55, seconds: 140 });
  recordRun(t);
  Object.assign(t, { step: 60, seconds: 152.25 });
  recordRun(t);
  assert.deepEqual(t.runs, [
    { command: "deno task train", fromStep: 0, toStep: 40, seconds: 100 },
    { command: "deno task train --epochs 50 --resume", fromStep: 40, toStep: 50, seconds: 30 },
    { command: "deno task train --epochs 60 --resume", fromStep: 50, toStep: 60, seconds: 22.3 },
  ]);
});

Deno.test("runs: a checkpoint without the list counts as one run of unknown command", () => {
  const s = state(2150, 6275);
  beginRun(s, "deno task train --resume");
  Object.assign(s, { step: 2700, seconds: 8522 });
  recordRun(s);
  assert.deepEqual(s.runs, [
    { command: null, fromStep: 0, toStep: 2150, seconds: 6275 },
    { command: "deno task train --resume", fromStep: 2150, toStep: 2700, seconds: 2247 },
  ]);
});
