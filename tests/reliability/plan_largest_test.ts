// The memory planner's largest buffer against reality: each phase's (loading, attribution, the
// update) is exactly the largest buffer the real load and KNE edit ask of the backend, each
// counted in the dtype it is held in (tiny fixtures' shapes with f16 or f32 matrices, stored as
// F16 or F32, at two vocabularies, random work; both backends); and a shape like Gemma-2-2B's,
// planned from its config alone, is not refused for its 256,000 x 2,304 embedding on a device
// whose per-buffer limit lies between its f16 (1.18 GB) and f32 (2.36 GB) sizes when it is held
// in f16, and is when it is held in f32.

import assert from "node:assert/strict";
import fc from "fast-check";
import { teacherForced } from "../../src/edit/request.ts";
import { UnitSnapshot } from "../../src/edit/snapshot.ts";
import { attribute } from "../../src/kne/attribution.ts";
import { ensembleSelections, selectEnsemble } from "../../src/kne/ensemble.ts";
import { KNE_DEFAULTS } from "../../src/kne/hparams.ts";
import { freeAnchor, lengthBuckets, localityAnchors } from "../../src/kne/locality.ts";
import { kneMethod } from "../../src/kne/method.ts";
import { maskedUpdate } from "../../src/kne/update.ts";
import { buildModel, disposeModel, initWeights } from "../../src/model/build.ts";
import { parseModelConfig } from "../../src/model/read-config.ts";
import { loadModel, saveWeights } from "../../src/pipeline/load.ts";
import { type BackendLimits, fitPlan, planProblems, tensorLabel } from "../../src/plan/fit.ts";
import { formatPlan } from "../../src/plan/text.ts";
import { planMemory } from "../../src/plan/plan.ts";
import { GEMMA2_2B_JSON } from "../helpers/configs.ts";
import { testBackends } from "../helpers/backends.ts";
import { largestDuring } from "../helpers/memory.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const FAMILIES = ["tiny-gpt2", "tiny-llama", "tiny-neox", "tiny-gptj", "tiny-gemma2", "tiny-qwen3"];

testBackends(
  "plan: each phase's largest buffer is exactly the largest the real load and KNE edit allocate, in the dtype it is held in",
  async (be) => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          family: fc.constantFrom(...FAMILIES),
          // 40x: the embedding (and head) outweigh everything else, as in Gemma's and Llama 3's.
          vocabScale: fc.constantFrom(1, 40),
          stored: fc.constantFrom("f16" as const, "f32" as const),
          weightDtype: fc.constantFrom("f16" as const, "f16" as const, "f32" as const),
          batch: fc.integer({ min: 1, max: 2 }),
          t: fc.integer({ min: 4, max: 30 }),
          klRows: fc.integer({ min: 0, max: 3 }),
          igSteps: fc.integer({ min: 1, max: 2 }),
          chunks: fc.integer({ min: 1, max: 2 }),
          checkpoint: fc.boolean(),
          ffnUnit: fc.constantFrom("projection" as const, "neuron" as const),
        }),
        async (r) => {
          const fixture = JSON.parse(Deno.readTextFileSync(`${FIXTURES}${r.family}/config.json`));
          const json = { ...fixture, vocab_size: fixture.vocab_size * r.vocabScale };
          const config = parseModelConfig(json, r.family);
          const what = JSON.stringify(r);
          // A checkpoint of the shape, stored as F16 or F32.
          const dir = await Deno.makeTempDir({ prefix: "kne-largest-" });
          const made = buildModel(config, be, initWeights(config, 5), "random", r.stored);
          try {
            await saveWeights(made, dir);
          } finally {
            disposeModel(made);
          }
          await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(json));
          const v = config.vocabSize;
          const rows = Array.from({ length: r.batch }, (_, b) =>
            teacherForced(
              Array.from({ length: r.t - 1 - b }, (_, i) => (i * 7 + b) % v),
              [3, 5],
              config.contextLength,
            ));
          const prompts = Array.from(
            { length: r.klRows },
            (_, a) => Array.from({ length: r.t - a }, (_, i) => (i * 5 + a) % v),
          );
          const hp = {
            ...KNE_DEFAULTS,
            igSteps: r.igSteps,
            // Every unit: the update trains (and checks) every scored tensor, the largest too.
            topP: 1,
            ffnUnit: r.ffnUnit,
            steps: 2,
            earlyStopLoss: 0,
            klWeight: r.klRows > 0 ? 1 : 0,
          };
          // The work as the run forms it (src/plan/work.ts): the anchors in length buckets.
          const buckets = lengthBuckets(prompts);
          const work = {
            seqLen: r.t,
            batch: r.batch,
            igSteps: 1,
            targetTokens: 2 * r.batch,
            klRows: r.klRows,
            klSeqLen: r.t,
            klBatches: buckets.map((b) => ({
              rows: b.length,
              seqLen: Math.max(...b.map((p) => p.length)),
            })),
          };
          const plan = planMemory(config, {
            ...kneMethod.planWork!(work, hp),
            backend: be.name,
            weightDtype: r.weightDtype,
            attributionChunks: r.chunks,
            checkpointLayers: r.checkpoint,
          });
          try {
            let model: Awaited<ReturnType<typeof loadModel>>["model"] | undefined;
            const load = await largestDuring(be, async () => {
              model = (await loadModel(dir, be, { tokenizer: false, dtype: r.weightDtype })).model;
            });
            const m = model!;
            m.checkpointLayers = r.checkpoint;
            try {
              const planned = plan.largestIn;
              assert.deepEqual(
                { bytes: planned.load.bytes, dtype: planned.load.dtype },
                load,
                `load: ${what}`,
              );
              // As kneEdit does: the anchors (their reference logits) before attribution, held
              // through the update; the update's snapshot of the units before it, diffed after.
              let anchors: ReturnType<typeof localityAnchors> = [];
              let attr: Awaited<ReturnType<typeof attribute>> | undefined;
              const attrLargest = await largestDuring(be, async () => {
                anchors = prompts.length > 0 ? localityAnchors(m, prompts, 0) : [];
                attr = await attribute(m, rows, hp, undefined, r.chunks);
              });
              const updLargest = await largestDuring(be, async () => {
                try {
                  const ensemble = selectEnsemble(attr!, hp);
                  const snapshot = await UnitSnapshot.take(m, ensembleSelections(ensemble));
                  await maskedUpdate(m, rows, ensemble, hp, anchors, undefined, true);
                  await snapshot.changes();
                } finally {
                  for (const a of anchors.flat()) freeAnchor(a);
                }
              });
              // The weights are on the device through both phases.
              const phase = (x: typeof load) => (x.bytes > load.bytes ? x : load);
              for (
                const [name, real, p] of [
                  ["attribution", phase(attrLargest), planned.attribution],
                  ["update", phase(updLargest), planned.update],
                ] as const
              ) {
                assert.deepEqual(
                  { bytes: p.bytes, dtype: p.dtype },
                  real,
                  `${name}: planned ${tensorLabel(p)} ${p.bytes} B; ${what}`,
                );
              }
              const edit = phase(attrLargest.bytes >= updLargest.bytes ? attrLargest : updLargest);
              assert.equal(plan.largest.bytes, edit.bytes, `edit: ${what}`);
            } finally {
              disposeModel(m);
            }
          } finally {
            await Deno.remove(dir, { recursive: true });
          }
        },
      ),
      { numRuns: be.name === "wasm" ? 100 : 8 },
    );
  },
);

Deno.test("plan: Gemma-2-2B's f16 embedding fits a per-buffer limit its f32 size exceeds", () => {
  const config = parseModelConfig(GEMMA2_2B_JSON, "gemma-2-2b");
  const entries = 256_000 * 2_304;
  // Between the embedding's f16 and f32 sizes: 1.18 GB < 1.77 GB < 2.36 GB; llvmpipe's 2.15 GB.
  for (const maxBufferBytes of [1.5 * 2 * entries, 2 ** 31 - 1]) {
    const limits: BackendLimits = {
      backend: "webgpu",
      deviceBytes: null,
      deviceIsHost: false,
      hostAvailable: Infinity,
      maxBindingBytes: 128 * 2 ** 20,
      maxBufferBytes,
      description: `a device of ${maxBufferBytes} B per buffer`,
    };
    const work = {
      seqLen: 8,
      batch: 1,
      igSteps: 4,
      targetTokens: 2,
      klRows: 4,
      klSeqLen: 8,
      backend: "webgpu" as const,
      ensemble: KNE_DEFAULTS,
    };
    const half = fitPlan(config, { ...work, weightDtype: "f16" }, limits);
    for (const largest of [half.largest, half.largestIn.load]) {
      assert.equal(largest.name, "model.embed_tokens.weight");
      assert.equal(largest.dtype, "f16");
      assert.equal(largest.bytes, 2 * entries);
    }
    // No phase makes an f32 copy of it: attribution's and the update's largest f32 buffers are
    // far smaller (the FFN's 2,304 x 9,216 gradient and the head's logits).
    for (const p of [half.largestIn.attribution, half.largestIn.update]) {
      assert.equal(p.name, "model.embed_tokens.weight");
    }
    assert.deepEqual(planProblems(half, limits, "load"), []);
    assert.deepEqual(planProblems(half, limits, "edit"), []);
    assert.match(
      formatPlan(half, limits),
      /largest buffer: model\.embed_tokens\.weight \(f16, 1\.18 GB\)/,
    );
    assert.match(formatPlan(half, limits), /fits: yes/);
    // Held in f32, the same table is one 2.36 GB buffer: refused at load and for the edit.
    const full = fitPlan(config, { ...work, weightDtype: "f32" }, limits);
    assert.equal(full.largest.bytes, 4 * entries);
    for (const phase of ["load", "edit"] as const) {
      const problems = planProblems(full, limits, phase);
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(
        problems[0],
        /largest buffer \(model\.embed_tokens\.weight, f32, 2\.36 GB\) exceeds the WebGPU device's limit/,
      );
    }
  }
});
