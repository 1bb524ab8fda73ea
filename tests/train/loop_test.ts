// The training loop (src/train/loop.ts): the learning-rate schedule's shape, a run stopped and
// resumed from its checkpoint ends with exactly the weights of one run straight through (its stop
// checkpointed once), a stop before any step still checkpoints, and a non-finite loss stops the
// loop before any update or checkpoint.

import assert from "node:assert/strict";
import fc from "fast-check";
import { Adam } from "../../src/autograd/adam.ts";
import { buildModel, disposeModel, initWeights } from "../../src/model/build.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { loadCheckpoint, saveCheckpoint, type TrainState } from "../../src/train/checkpoint.ts";
import { sentenceSource } from "../../src/train/data.ts";
import { DivergedError, learningRate, trainSteps } from "../../src/train/loop.ts";
import { trainedModelConfig } from "../../src/train/presets.ts";
import { getBackend } from "../helpers/backends.ts";

Deno.test("the learning rate warms up linearly, then falls by a cosine to a tenth", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 1, max: 500 }),
      fc.double({ min: 1e-5, max: 1, noNaN: true }),
      (warmup, rest, lr) => {
        const s = { lr, warmup, totalSteps: warmup + rest };
        const close = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * lr;
        for (let i = 0; i < warmup; i++) {
          assert.ok(close(learningRate(i, s), (lr * (i + 1)) / warmup));
        }
        assert.ok(close(learningRate(warmup, s), lr));
        assert.ok(close(learningRate(s.totalSteps, s), lr / 10));
        assert.ok(close(learningRate(s.totalSteps + 7, s), lr / 10), "flat after the end");
        for (let i = warmup + 1; i <= s.totalSteps; i++) {
          assert.ok(learningRate(i, s) <= learningRate(i - 1, s), `falls at step ${i}`);
        }
      },
    ),
  );
});

const backend = await getBackend("wasm");
const config = trainedModelConfig(
  "gpt2",
  { vocabSize: 23, contextLength: 8, dModel: 8, nLayers: 1, nHeads: 2, dFF: 16 },
  0,
);
const seqs = Array.from(
  { length: 10 },
  (_, i) => Array.from({ length: 3 + (i % 5) }, (_, j) => (i * 7 + j * 3) % 23),
);
const source = sentenceSource(seqs, 3);
const schedule = { lr: 1e-2, warmup: 2, totalSteps: 9 };

function fresh(): { model: CausalLM; opt: Adam; state: TrainState } {
  const model = buildModel(config, backend, initWeights(config, 5), "init");
  const opt = new Adam([...model.params.values()], { lr: schedule.lr, weightDecay: 0.1 });
  const state = {
    step: 0,
    epoch: 0,
    cursor: 0,
    seed: 5,
    config,
    losses: [],
    seconds: 0,
    tokens: 0,
  };
  return { model, opt, state };
}

type Run = ReturnType<typeof fresh>;

/** Trains `run` to the end of the schedule without checkpoints. */
async function trainThrough(run: Run): Promise<void> {
  await trainSteps(run.model, run.opt, source, run.state, {
    batch: 4,
    schedule,
    ckptEvery: 100,
    save: () => Promise.resolve(),
    stopRequested: () => false,
  });
}

async function weights(model: CausalLM): Promise<Float32Array[]> {
  return await Promise.all([...model.params.values()].map((p) => p.value.toArray()));
}

Deno.test("a run stopped and resumed from its checkpoint ends as one run straight through", async () => {
  const dir = await Deno.makeTempDir();
  const straight = fresh();
  const first = fresh();
  const second = fresh();
  try {
    await trainThrough(straight);
    assert.equal(straight.state.step, schedule.totalSteps);
    assert.ok(straight.state.epoch >= 2, "the run crosses epochs");

    const saved: number[] = [];
    await trainSteps(first.model, first.opt, source, first.state, {
      batch: 4,
      schedule,
      ckptEvery: 2,
      save: async (st) => {
        saved.push(st.step);
        await saveCheckpoint(dir, first.model, first.opt, st);
      },
      stopRequested: () => first.state.step === 5,
    });
    assert.deepEqual(saved, [2, 4, 5], "every 2 steps and at the stop");

    second.state = await loadCheckpoint(dir, second.model, second.opt, "");
    assert.equal(second.state.step, 5);
    await trainThrough(second);
    assert.deepEqual(await weights(second.model), await weights(straight.model));
    assert.deepEqual(second.state.losses, straight.state.losses);
    assert.equal(second.state.tokens, straight.state.tokens);
  } finally {
    for (const r of [straight, first, second]) {
      r.opt.dispose();
      disposeModel(r.model);
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stop asked before any step still leaves one checkpoint to resume from", async () => {
  const run = fresh();
  try {
    const saved: number[] = [];
    await trainSteps(run.model, run.opt, source, run.state, {
      batch: 4,
      schedule,
      ckptEvery: 2,
      save: (st) => Promise.resolve(void saved.push(st.step)),
      stopRequested: () => true,
    });
    assert.deepEqual(saved, [0]);
  } finally {
    run.opt.dispose();
    disposeModel(run.model);
  }
});

Deno.test("a non-finite loss ends the loop before any update or checkpoint", async () => {
  const run = fresh();
  try {
    const wte = run.model.params.get("transformer.wte.weight")!;
    const poisoned = await wte.value.toArray();
    poisoned[seqs[0][0]] = Number.NaN;
    backend.upload(wte.value.buffer, poisoned);
    const before = await weights(run.model);
    let saves = 0;
    await assert.rejects(
      trainSteps(run.model, run.opt, source, run.state, {
        batch: 20,
        schedule,
        ckptEvery: 1,
        save: () => Promise.resolve(void saves++),
        stopRequested: () => false,
      }),
      (e) => e instanceof DivergedError && /loss became NaN at step 0/.test(e.message),
    );
    assert.equal(saves, 0);
    assert.equal(run.state.step, 0);
    assert.deepEqual(await weights(run.model), before);
  } finally {
    run.opt.dispose();
    disposeModel(run.model);
  }
});
