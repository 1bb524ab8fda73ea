// KNE attribution against finite differences on the tiny fixtures (FIXTURE_FFN_UNITS): a unit's
// summed score (unitScore "sum") is (1/m) sum_s of sum_{i in unit} w_i dP/dw_i at alpha_s W,
// and sum_{i in unit} alpha w_i dP/dw_i = d/dh P(alpha W with the unit scaled by 1 + h). The
// oracle scales the weights themselves on the host (the path attribute() walks by scaling the
// projections' outputs instead), so the test also checks that CausalLM.projectionScale is the
// same path. With ffnUnit "neuron" the FFN output projection's units are its input rows or
// columns (the neurons' value vectors), and the same identity holds for them.

import assert from "node:assert/strict";
import { noGrad } from "../../src/autograd/variable.ts";
import { teacherForced } from "../../src/edit/request.ts";
import { attribute, scoredParams, unitEntries } from "../../src/kne/attribution.ts";
import { KNE_DEFAULTS } from "../../src/kne/hparams.ts";
import { disposeModel } from "../../src/model/build.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { FIXTURE_FFN_UNITS } from "../helpers/kne.ts";

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const STEPS = 3;
const PROMPT = [5, 9, 2, 7, 3, 8], TARGET = [4, 6];

/** sum_j P(target_j | prompt, target_<j), in float64 from the f32 logits. */
async function targetProbability(model: CausalLM): Promise<number> {
  const ids = [...PROMPT, ...TARGET.slice(0, -1)];
  const logits = await tidyAsync(async () =>
    await noGrad(() => model.forward(Tensor.fromArray(model.backend, ids, [1, ids.length])))
      .value.toArray()
  );
  const V = model.config.vocabSize;
  let p = 0;
  for (const [j, tok] of TARGET.entries()) {
    const row = logits.subarray((PROMPT.length - 1 + j) * V, (PROMPT.length + j) * V);
    const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
    const z = row.reduce((a, b) => a + Math.exp(b - max), 0);
    p += Math.exp(row[tok] - max) / z;
  }
  return p;
}

for (const [name, ffnUnit] of FIXTURE_FFN_UNITS) {
  testBackends(
    `${name}: KNE ${ffnUnit} unit scores match finite differences along the path`,
    async (be) => {
      const { model } = await loadModel(fixture(name), be, { tokenizer: false });
      try {
        const rows = [teacherForced(PROMPT, TARGET, model.config.contextLength)];
        const attr = await attribute(model, rows, {
          ...KNE_DEFAULTS,
          igSteps: STEPS,
          unitScore: "sum",
          ffnUnit,
        });
        assert.equal(model.projectionScale, 1, "attribution leaves the path scale at 1");
        const originals = new Map<string, Float32Array>();
        for (const [n, p] of model.params) originals.set(n, await p.value.toArray());
        // The path scales every projection and its bias (whether or not the bias is in a unit).
        const path = scoredParams(model);
        // Writes alpha * the original values into every scored tensor, unit u of `which` times 1 + h.
        const setPath = (alpha: number, which?: (typeof attr.tensors)[number], u = 0, h = 0) => {
          for (const t of path) {
            for (const info of t.bias ? [t.info, t.bias] : [t.info]) {
              const w = originals.get(info.name)!.map((x) => alpha * x);
              if (which && t.info.name === which.info.name) {
                const entries = info === t.info
                  ? unitEntries(info, u, which.axis)
                  : which.bias
                  ? [u]
                  : [];
                for (const i of entries) w[i] *= 1 + h;
              }
              const v = model.params.get(info.name)!.value;
              v.backend.upload(v.buffer, w);
            }
          }
        };
        // The first weight of each layer's attention and FFN, and the last (the FFN output).
        const checked = attr.tensors.filter((t, i, all) =>
          i === 0 || i === all.length - 1 || /mlp\.(c_fc|gate_proj)/.test(t.info.name)
        );
        for (const t of checked) {
          const order = [...t.unitScores.keys()].sort((a, b) =>
            Math.abs(t.unitScores[b]) - Math.abs(t.unitScores[a])
          );
          for (const u of order.slice(0, 2)) {
            let want = 0;
            for (let s = 1; s <= STEPS; s++) {
              // h = 6e-2: at 1e-2 the f32 rounding of P on lavapipe's WebGPU moved the
              // difference quotient by up to 4%, and at 4e-2 still by 2% on tiny-gemma3 (whose
              // post-FFN norms shrink a unit's effect); at 6e-2 every unit of every fixture
              // agrees within 0.5% on both backends.
              const alpha = s / STEPS, h = 6e-2;
              setPath(alpha, t, u, h);
              const up = await targetProbability(model);
              setPath(alpha, t, u, -h);
              const down = await targetProbability(model);
              want += (up - down) / (2 * h) / alpha / STEPS;
            }
            const got = t.unitScores[u];
            assert.ok(
              Math.abs(want - got) <= 2e-2 * Math.abs(got),
              `${t.info.name} unit ${u}: attribution ${got}, finite differences ${want}`,
            );
          }
        }
        setPath(1);
      } finally {
        disposeModel(model);
      }
    },
  );
}
