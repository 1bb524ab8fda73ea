// KNE's masked update trains compact masters of the ensemble's units: after one Adam step every
// ensemble entry (columns of GPT-2's [in, out] weights and their bias entries, rows of Llama's
// [out, in] weights) moved by exactly Adam's first step on the full gradient, lr * g / (|g| +
// eps) (rounded to nearest for f16 weights), and every other entry kept its bits; the optimizer
// state is allocated for the ensemble entries only. Every fixture of FIXTURE_FFN_UNITS, both
// backends, with the FFN's units as projection outputs or as whole neurons (ffnUnit "neuron").

import assert from "node:assert/strict";
import * as A from "../../src/autograd/ops.ts";
import { backward } from "../../src/autograd/variable.ts";
import { padBatch, targetRows, teacherForced } from "../../src/edit/request.ts";
import { attribute, unitEntries } from "../../src/kne/attribution.ts";
import { ensembleParamCount, selectEnsemble } from "../../src/kne/ensemble.ts";
import { KNE_DEFAULTS } from "../../src/kne/hparams.ts";
import { maskedUpdate } from "../../src/kne/update.ts";
import { disposeModel } from "../../src/model/build.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { Tensor, tidy } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { FIXTURE_FFN_UNITS } from "../helpers/kne.ts";
import { peakDuring } from "../helpers/memory.ts";

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const HP = { ...KNE_DEFAULTS, igSteps: 1, topP: 0.1, steps: 1, earlyStopLoss: 0, klWeight: 0 };

/** Gradients of the update's loss (mean target cross-entropy) for every parameter. */
async function fullGradients(
  model: CausalLM,
  row: ReturnType<typeof teacherForced>,
): Promise<Map<string, Float32Array>> {
  const { ids, targets, t } = padBatch([row]);
  const read = targetRows(targets);
  const be = model.backend;
  tidy(() => {
    const ce = A.crossEntropyRows(
      model.forward(
        Tensor.fromArray(be, ids, [1, t]),
        undefined,
        undefined,
        Tensor.fromArray(be, read.rows, [read.rows.length]),
      ),
      Tensor.fromArray(be, read.targets, [read.targets.length]),
    );
    const n = read.targets.length;
    backward(A.dot(ce, Tensor.fromArray(be, read.targets.map(() => 1 / n), [n])));
  });
  const out = new Map<string, Float32Array>();
  for (const [name, p] of model.params) {
    if (p.grad) out.set(name, await p.grad.toArray());
    p.zeroGrad();
  }
  return out;
}

for (const [name, ffnUnit] of FIXTURE_FFN_UNITS) {
  testBackends(
    `${name}: one update step moves exactly the ensemble entries (${ffnUnit} units), by Adam's first step`,
    async (be) => {
      const { model } = await loadModel(fixture(name), be, { tokenizer: false });
      try {
        const row = teacherForced([5, 9, 2, 7, 3, 8], [4, 6], model.config.contextLength);
        const hp = { ...HP, ffnUnit };
        const ensemble = selectEnsemble(await attribute(model, [row], hp), hp);
        // Units per layer sum to the units selected (a neuron in two or three tensors used to
        // count once per tensor there: ensemble.json read 26 units and {"11": 52}).
        const sum = Object.values(ensemble.perLayer).reduce((a, b) => a + b, 0);
        assert.equal(sum, ensemble.selectedUnits);
        if (ffnUnit === "neuron") {
          // A neuron is selected whole: every FFN tensor of a layer holds the same units, the
          // output projection along its inputs (GPT-2: rows of [dFF, d]; Llama: columns).
          const ffn = ensemble.tensors.filter((t) => t.group.startsWith("mlp_"));
          assert.ok(ffn.some((t) => t.group === "mlp_out"), "no FFN neuron selected");
          for (const t of ffn) {
            const mates = ffn.filter((o) => o.layer === t.layer);
            // GPT-2, GPT-NeoX and GPT-J: in and out projections; Llama, Gemma: gate, up, down.
            assert.equal(mates.length, /llama|gemma/.test(name) ? 3 : 2);
            for (const o of mates) assert.deepEqual(o.units, t.units);
            const outputs = t.layout === "in_out" ? 1 : 0;
            assert.equal(t.axis, t.group === "mlp_out" ? 1 - outputs : outputs);
            if (t.group === "mlp_out") assert.equal(t.bias, null);
          }
        }
        const before = new Map<string, Float32Array>();
        for (const [n, p] of model.params) before.set(n, await p.value.toArray());
        const grads = await fullGradients(model, [row][0]);
        // Which entries the ensemble owns, per tensor.
        const owned = new Map<string, Set<number>>();
        for (const t of ensemble.tensors) {
          const info = model.paramInfo.find((p) => p.name === t.name)!;
          owned.set(t.name, new Set(t.units.flatMap((u) => unitEntries(info, u, t.axis))));
          if (t.bias) owned.set(t.bias, new Set(t.units));
        }
        assert.ok(
          ensemble.tensors.some((t) => t.layout === (name === "tiny-gpt2" ? "in_out" : "out_in")),
        );
        const peak = await peakDuring(be, async () => {
          const r = await maskedUpdate(model, [row], ensemble, hp, []);
          assert.equal(r.steps, 1);
        });
        let moved = 0;
        for (const [n, p] of model.params) {
          const after = await p.value.toArray();
          const was = before.get(n)!, g = grads.get(n), mine = owned.get(n);
          for (let i = 0; i < after.length; i++) {
            if (!mine?.has(i)) {
              if (!Object.is(after[i], was[i])) {
                assert.fail(`${n}[${i}] is outside the ensemble but moved`);
              }
              continue;
            }
            const gi = g![i];
            const want = was[i] - HP.lr * gi / (Math.abs(gi) + 1e-8);
            // f16 weights (WebGPU loads the F16 fixture as f16) hold the step rounded to nearest.
            const tol = 1e-6 * Math.max(1, Math.abs(want)) +
              (p.value.dtype === "f16" ? 2 ** (Math.floor(Math.log2(Math.abs(want))) - 11) : 0);
            if (Math.abs(after[i] - want) > tol) {
              assert.fail(
                `${n}[${i}]: ${after[i]}, Adam's first step gives ${want} (was ${was[i]}, g ${gi})`,
              );
            }
            if (after[i] !== was[i]) moved++;
          }
        }
        assert.ok(moved > 0.9 * ensembleParamCount(ensemble), `${moved} entries moved`);
        // Master, gradient and two moments per ensemble entry, not per entry of their tensors.
        const entries = ensembleParamCount(ensemble);
        const touched = ensemble.tensors.reduce((a, t) => a + t.shape[0] * t.shape[1], 0);
        assert.ok(entries < touched / 2, "the ensemble must be a fraction of its tensors");
        assert.ok(
          peak < 16 * touched,
          `update allocated ${peak} B, dense state is ${16 * touched} B`,
        );
      } finally {
        disposeModel(model);
      }
    },
  );
}
