// The planner's measured backward transients: for GPT-2, Llama, Qwen2, Qwen3, GPT-NeoX, GPT-J and
// Gemma 1-3 shapes of 3 to 5 layers (the tiny fixtures' among them), recorded or checkpointed,
// attribution or an update with or without a KL term, the figure scaled from 2- and 3-layer cuts
// bounds the backward measured on the whole model and equals it whenever the layers outweigh the
// head or leave nothing held; the plan's transients are these figures, so they follow whatever
// the forward does (GPT-2 against Llama, checkpointed against recorded) with no per-architecture
// count in the planner.

import assert from "node:assert/strict";
import fc from "fast-check";
import type { ModelConfig } from "../../src/model/config.ts";
import { readModelConfig } from "../../src/model/read-config.ts";
import { configOfShape, SHAPE_ARCHS } from "../helpers/configs.ts";
import {
  attributionTransient,
  measureBackward,
  type Phase,
  updateTransient,
} from "../../src/plan/backward.ts";
import { planMemory } from "../../src/plan/plan.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

const configArb = fc.record({
  arch: fc.constantFrom(...SHAPE_ARCHS),
  kv: fc.constantFrom(1, 2),
  d: fc.constantFrom(16, 32),
  layers: fc.integer({ min: 3, max: 5 }),
  ff: fc.integer({ min: 8, max: 96 }),
  vocab: fc.integer({ min: 4, max: 300 }),
}).map((r): ModelConfig => configOfShape({ ...r, heads: 2, ctx: 32 }));

const workArb = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  seqLen: fc.integer({ min: 1, max: 12 }),
  headRows: fc.integer({ min: 1, max: 4 }),
  checkpointed: fc.boolean(),
  weightDtype: fc.constantFrom("f32" as const, "f16" as const),
  phase: fc.constantFrom("attribution", "update"),
  units: fc.integer({ min: 1, max: 40 }),
  ffnUnit: fc.constantFrom("projection" as const, "neuron" as const),
  klRows: fc.integer({ min: 0, max: 3 }),
});

type Work = typeof workArb extends fc.Arbitrary<infer T> ? T : never;

/** The planned transient against the one measured on the whole model (exact when layers rule). */
function checkScaling(config: ModelConfig, w: Work): void {
  const work = {
    batch: w.batch,
    seqLen: w.seqLen,
    headRows: Math.min(w.headRows, w.batch * w.seqLen),
    checkpointed: w.checkpointed,
    weightDtype: w.weightDtype,
  };
  const update = {
    ...work,
    units: w.units,
    ffnUnit: w.ffnUnit,
    klBatches: w.klRows > 0 ? [{ rows: w.klRows, seqLen: w.seqLen }] : [],
  };
  const phase: Phase = w.phase === "attribution" ? { attribution: work } : { update };
  const planned = w.phase === "attribution"
    ? attributionTransient(config, work)
    : updateTransient(config, update);
  const whole = measureBackward(config, config.nLayers, phase).peak;
  const two = measureBackward(config, 2, phase), three = measureBackward(config, 3, phase);
  const label = `${config.hfClass} ${config.nLayers} layers ${JSON.stringify(w)}`;
  assert.ok(planned >= whole, `${label}: planned ${planned} < measured ${whole}`);
  // Over by less than the head's backward, and not at all once the layers outweigh it or leave
  // nothing behind.
  assert.ok(planned - whole < two.peak, `${label}: planned ${planned}, measured ${whole}`);
  if (three.peak > two.peak || three.held === two.held) assert.equal(planned, whole, label);
}

Deno.test("backward: the transient scaled from 2 and 3 layers is the whole model's", () => {
  fc.assert(fc.property(configArb, workArb, checkScaling), { numRuns: 150 });
});

Deno.test("backward: the tiny GPT-2 and Llama fixtures at 4 layers, recorded and checkpointed", async () => {
  for (const name of ["tiny-gpt2", "tiny-llama"]) {
    const config = { ...await readModelConfig(`${FIXTURES}${name}`), nLayers: 4 };
    for (const checkpointed of [false, true]) {
      for (const phase of ["attribution", "update"] as const) {
        checkScaling(config, {
          batch: 2,
          seqLen: 16,
          headRows: 4,
          checkpointed,
          weightDtype: "f32",
          phase,
          units: 8,
          ffnUnit: "projection",
          klRows: phase === "update" ? 2 : 0,
        });
      }
    }
  }
});

Deno.test("backward: the plan's transients are the measured ones, whatever the forward", async () => {
  for (const name of ["tiny-gpt2", "tiny-llama"]) {
    const config = await readModelConfig(`${FIXTURES}${name}`);
    for (const checkpointLayers of [false, true]) {
      const plan = planMemory(config, {
        seqLen: 16,
        batch: 2,
        igSteps: 2,
        targetTokens: 4,
        klRows: 2,
        klSeqLen: 8,
        backend: "webgpu",
        checkpointLayers,
      });
      const work = {
        batch: 2,
        seqLen: 16,
        headRows: 4,
        checkpointed: checkpointLayers,
        weightDtype: "f32" as const,
      };
      assert.equal(plan.bytes.backwardTransient, attributionTransient(config, work));
      // The default ensemble is every unit: each tensor trains all of its own.
      const units = Number.MAX_SAFE_INTEGER;
      assert.equal(
        plan.bytes.updateTransient,
        updateTransient(config, {
          ...work,
          units,
          ffnUnit: "projection",
          klBatches: [{ rows: 2, seqLen: 8 }],
        }),
      );
      const b = plan.bytes;
      assert.equal(
        b.attributionPeak,
        b.weights + b.gradients + b.activations + b.logits + b.backwardTransient +
          b.anchorInputs,
      );
      // Every anchor is forwarded at every step: the held inputs are the step's, in `locality`.
      assert.ok(b.anchorInputs > 0 && b.anchorInputs < b.locality);
      assert.equal(
        b.updatePeak,
        b.weights + b.optimizer + b.activations + b.logits + b.updateTransient + b.locality +
          b.finiteCheck,
      );
    }
  }
});
