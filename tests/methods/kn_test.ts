// KN on the tiny oracle GPT-2: the edit makes the target the argmax and touches only the value
// vectors of the selected neurons (by lambda * (E[new] - E[old]) exactly), the selection keeps
// the neurons above threshold x max, and the integrated gradient is checked against central
// finite differences of the target probability (m = 1: a_i * dP/da_i; m = 3: the Riemann sum
// of the same along the scaled path).

import * as A from "../../src/autograd/ops.ts";
import { constant, noGrad } from "../../src/autograd/variable.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { KN_DEFAULTS, type KnHparams } from "../../src/methods/kn/hparams.ts";
import { attributeNeurons, knMethod, layerScores } from "../../src/methods/kn/method.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import {
  assert,
  changedEntries,
  ctx,
  predicts,
  target,
  weights,
  withModel,
} from "../helpers/tiny.ts";

const HP: KnHparams = { ...KN_DEFAULTS, igSteps: 8 };

/**
 * P(target | prompt) with the last position's FFN activations of `layer` scaled by alpha and
 * neuron `unit` by alpha * s.
 */
async function probScaled(
  model: CausalLM,
  ids: number[],
  tok: number,
  layer: number,
  unit: number,
  s: number,
  alpha = 1,
): Promise<number> {
  return await tidyAsync(async () => {
    const t = ids.length, w = model.config.dFF;
    const mask = new Float32Array(t * w).fill(1);
    mask.fill(alpha, (t - 1) * w, t * w);
    mask[(t - 1) * w + unit] = alpha * s;
    const mv = constant(Tensor.fromArray(model.backend, mask, [t, w]));
    const logits = noGrad(() =>
      model.forward(
        Tensor.fromArray(model.backend, ids, [1, t]),
        (l, site, x) => (l === layer && site === "mlp_key" ? A.mul(x, mv) : undefined),
      )
    );
    const v = model.config.vocabSize;
    const row = Array.from(await model.backend.read(logits.value.buffer, (t - 1) * v, v));
    const mx = Math.max(...row);
    const z = row.reduce((a, x) => a + Math.exp(x - mx), 0);
    return Math.exp(row[tok] - mx) / z;
  });
}

testBackends(
  "KN makes the target the argmax by editing only the kept value vectors",
  async (be) => {
    await withModel(be, async (m) => {
      const t = target(m, "The capital of France is", "Tokyo");
      assert(!(await predicts(m, t)), "the fixture already predicts the target");
      const before = await weights(m);
      const r = await knMethod.apply(ctx(m), [t], HP);
      assert(!r.rolledBack, "rolled back");
      assert(await predicts(m, t), "target is not the argmax after KN");
      const after = await weights(m);
      const [art] = r.artifacts.kn as {
        neurons: { layer: number; unit: number; score: number }[];
        originalToken: number;
        maxScore: number;
      }[];
      assert(art.neurons.length > 0, "no neuron selected");
      for (const n of art.neurons) {
        assert(n.score >= HP.threshold * art.maxScore, "a kept neuron is below the threshold");
      }
      // Expected: c_proj rows of the kept neurons += lambda * (E[new] - E[old]); nothing else.
      const wte = before.get("transformer.wte.weight")!;
      const d = m.model.config.dModel;
      let expectedEntries = 0;
      for (const [name, b] of before) {
        const a = after.get(name)!;
        const match = name.match(/^transformer\.h\.(\d+)\.mlp\.c_proj\.weight$/);
        const units = match
          ? art.neurons.filter((n) => n.layer === Number(match[1])).map((n) => n.unit)
          : [];
        for (let i = 0; i < b.length; i++) {
          const unit = Math.floor(i / d), o = i % d;
          if (units.includes(unit)) {
            const want = Math.fround(
              b[i] + HP.lambda * (wte[t.targetIds[0] * d + o] - wte[art.originalToken * d + o]),
            );
            assert(Math.abs(a[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${name}[${i}]`);
            if (a[i] !== b[i]) expectedEntries++;
          } else {
            assert(
              a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i])),
              `${name}[${i}] moved`,
            );
          }
        }
      }
      const reported = r.changes.reduce((s, c) => s + c.indices.length, 0);
      assert(reported === changedEntries(before, after), "reported changes differ");
      assert(reported === expectedEntries, "not every kept value vector changed");
    });
  },
);

testBackends("KN's integrand (m = 1) matches central finite differences", async (be) => {
  await withModel(be, async (m) => {
    const t = target(m, "The capital of Spain is", "Lima");
    const tok = t.targetIds[0];
    for (const layer of [0, 1]) {
      const { scores } = await layerScores(m.model, t.promptIds, tok, layer, 1);
      // The three largest |scores|: a_i dP/da_i = d/dh P(a_i (1 + h)) at h = 0.
      const order = [...scores.keys()].sort((a, b) => Math.abs(scores[b]) - Math.abs(scores[a]));
      for (const unit of order.slice(0, 3)) {
        const h = 1e-2;
        const fd = ((await probScaled(m.model, t.promptIds, tok, layer, unit, 1 + h)) -
          (await probScaled(m.model, t.promptIds, tok, layer, unit, 1 - h))) / (2 * h);
        const err = Math.abs(fd - scores[unit]) / Math.abs(scores[unit]);
        assert(err < 2e-2, `layer ${layer} neuron ${unit}: IG ${scores[unit]} vs FD ${fd}`);
      }
    }
  });
});

testBackends("KN's Riemann sum (m = 3) matches finite differences along the path", async (be) => {
  await withModel(be, async (m) => {
    const t = target(m, "The capital of Spain is", "Lima");
    const tok = t.targetIds[0];
    const layer = 0, steps = 3;
    const { scores } = await layerScores(m.model, t.promptIds, tok, layer, steps);
    const att = await attributeNeurons(m.model, t.promptIds, tok, { ...HP, igSteps: steps });
    assert(att.scores[layer].every((x, i) => x === scores[i]), "attributeNeurons differs");
    const order = [...scores.keys()].sort((a, b) => Math.abs(scores[b]) - Math.abs(scores[a]));
    for (const unit of order.slice(0, 2)) {
      // (1/m) sum_s a_i dP/dx_i at x = (s/m) a, with a_i dP/dx_i = (1/alpha) d/dh P(alpha a_i (1+h)).
      let want = 0;
      for (let s = 1; s <= steps; s++) {
        const alpha = s / steps, h = 1e-2;
        const fd = ((await probScaled(m.model, t.promptIds, tok, layer, unit, 1 + h, alpha)) -
          (await probScaled(m.model, t.promptIds, tok, layer, unit, 1 - h, alpha))) / (2 * h);
        want += fd / alpha / steps;
      }
      const err = Math.abs(want - scores[unit]) / Math.abs(scores[unit]);
      assert(err < 2e-2, `neuron ${unit}: IG ${scores[unit]} vs FD ${want}`);
    }
  });
});
