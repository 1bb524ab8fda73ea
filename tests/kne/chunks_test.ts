// Attribution in groups of layers (what the memory planner chooses when one pass does not fit):
// every unit score and the target probability are bit-identical to one pass, on GPT-2
// and Llama and both backends, the gradient memory drops, and the model is left unchanged; so
// are the scores of the FFN or attention projections when only those are scored.

import assert from "node:assert/strict";
import { teacherForced } from "../../src/edit/request.ts";
import { attribute, type Attribution, layerChunks } from "../../src/kne/attribution.ts";
import { KNE_DEFAULTS } from "../../src/kne/hparams.ts";
import { disposeModel } from "../../src/model/build.ts";
import type { ParamInfo } from "../../src/model/lm.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { testBackends } from "../helpers/backends.ts";
import { peakDuring } from "../helpers/memory.ts";

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const HP = { ...KNE_DEFAULTS, igSteps: 3 };

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  assert.equal(x.length, y.length, `${what}: length`);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

for (const name of ["tiny-gpt2", "tiny-llama"]) {
  testBackends(`${name}: attribution in layer groups equals one pass bit for bit`, async (be) => {
    const { model } = await loadModel(fixture(name), be, { tokenizer: false });
    try {
      const rows = [teacherForced([5, 9, 2, 7, 3, 8], [4, 6], model.config.contextLength)];
      const before = new Map<string, Float32Array>();
      for (const [n, p] of model.params) before.set(n, await p.value.toArray());
      const runs: { chunks: number; attr: Attribution; peak: number }[] = [];
      for (const chunks of [1, 2, model.config.nLayers, model.config.nLayers + 5]) {
        let attr: Attribution | undefined;
        const peak = await peakDuring(be, async () => {
          attr = await attribute(model, rows, HP, undefined, chunks);
        });
        runs.push({ chunks, attr: attr!, peak });
      }
      const [one, ...rest] = runs;
      for (const r of rest) {
        assert.equal(r.attr.targetProb, one.attr.targetProb, `targetProb, ${r.chunks} chunks`);
        assert.deepEqual(
          r.attr.tensors.map((t) => t.info.name),
          one.attr.tensors.map((t) => t.info.name),
        );
        for (const [i, t] of r.attr.tensors.entries()) {
          const u = one.attr.tensors[i];
          sameBits(t.unitScores, u.unitScores, `${t.info.name} units, ${r.chunks} chunks`);
        }
      }
      // One layer per group holds one layer's gradients instead of all of them.
      const perLayer = runs[2];
      assert.ok(
        perLayer.peak < one.peak,
        `${model.config.nLayers} groups peaked at ${perLayer.peak} B, one pass at ${one.peak} B`,
      );
      for (const [n, p] of model.params) {
        sameBits(await p.value.toArray(), before.get(n)!, `${n} after attribution`);
        assert.equal(p.grad, null, `${n} keeps a gradient`);
      }
    } finally {
      disposeModel(model);
    }
  });
}

Deno.test("layerChunks splits consecutive layers as evenly as it can, at most one per layer", () => {
  const scored = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4].map((layer, i) => ({
    info: { layer, name: `p${i}` } as ParamInfo,
  }));
  const groups = (n: number) =>
    layerChunks(scored, n).map((g) => [...new Set(g.map((s) => s.info.layer))]);
  assert.deepEqual(groups(1), [[0, 1, 2, 3, 4]]);
  assert.deepEqual(groups(2), [[0, 1, 2], [3, 4]]);
  assert.deepEqual(groups(3), [[0, 1], [2, 3], [4]]);
  assert.deepEqual(groups(5), [[0], [1], [2], [3], [4]]);
  assert.deepEqual(groups(9), [[0], [1], [2], [3], [4]]);
  assert.deepEqual(groups(0), [[0, 1, 2, 3, 4]]);
});

for (const name of ["tiny-gpt2", "tiny-llama"]) {
  testBackends(
    `${name}: scoring only the FFN or the attention keeps those scores bit for bit`,
    async (be) => {
      const { model } = await loadModel(fixture(name), be, { tokenizer: false });
      try {
        const rows = [teacherForced([5, 9, 2, 7, 3, 8], [4, 6], model.config.contextLength)];
        const all = await attribute(model, rows, HP);
        for (const groups of ["mlp", "attn"] as const) {
          const part = await attribute(model, rows, { ...HP, scoredGroups: groups });
          const want = all.tensors.filter((t) => t.info.group.startsWith(`${groups}_`));
          assert.ok(want.length > 0 && want.length < all.tensors.length);
          assert.deepEqual(part.tensors.map((t) => t.info.name), want.map((t) => t.info.name));
          for (const [i, t] of part.tensors.entries()) {
            sameBits(t.unitScores, want[i].unitScores, `${t.info.name} units, ${groups} only`);
          }
          assert.equal(part.targetProb, all.targetProb);
        }
      } finally {
        disposeModel(model);
      }
    },
  );
}
