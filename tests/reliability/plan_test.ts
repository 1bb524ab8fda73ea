// The memory planner against reality: the activations, head and loss it lists are exactly what the
// target forward and loss allocate, recorded, checkpointed or in inference (random GPT-2 / Llama /
// Qwen2 / Qwen3 / GPT-NeoX / GPT-J / Gemma 1-3 shapes and target rows, both backends), as are its
// head and KL tensors at two vocabularies and row counts (tiny fixtures, each allocating its own);
// its attribution and update peaks (with and without a KL term, allocator rounding included,
// attribution in layer groups, checkpointed layers, an ensemble of every unit, a fraction or one
// unit: the f32 copy of its f16 weight in the non-finite check, its layer above the first with
// checkpointed layers) bound the measured peaks of the real KNE phases, as does a whole KNE edit
// holding its anchors from before attribution (with anchor groups too), and its tensor model stays
// within 75% of them; fitPlan picks the fewest layer groups that fit a 7B edit on a 24 GiB GPU and
// checkpointed layers for a long one, and a model that cannot fit (a 70B config over a sparse
// checkpoint) is refused from config.json and the header alone: fast, with nothing allocated,
// naming what is needed and what is available. Its largest buffer, phase by phase and in each
// dtype: ./plan_largest_test.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import { sizeClass } from "../../engine/wasm/allocator.ts";
import type { Backend } from "../../engine/backend.ts";
import { createWasmBackend } from "../../engine/wasm/backend.ts";
import { teacherForced } from "../../src/edit/request.ts";
import { parseModelConfig } from "../../src/model/read-config.ts";
import * as A from "../../src/autograd/ops.ts";
import { attribute, targetCrossEntropy } from "../../src/kne/attribution.ts";
import { selectEnsemble } from "../../src/kne/ensemble.ts";
import { KNE_DEFAULTS } from "../../src/kne/hparams.ts";
import { kneEdit } from "../../src/kne/kne.ts";
import { kneMethod } from "../../src/kne/method.ts";
import { anchorKl, freeAnchor, localityAnchor } from "../../src/kne/locality.ts";
import { maskedUpdate } from "../../src/kne/update.ts";
import { noGrad } from "../../src/autograd/variable.ts";
import { buildModel, disposeModel, initWeights } from "../../src/model/build.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { checkBeforeLoad, weightDtypeFor } from "../../src/pipeline/load-check.ts";
import { type BackendLimits, fitPlan, planProblems, ResourceError } from "../../src/plan/fit.ts";
import { formatPlan } from "../../src/plan/text.ts";
import { planMemory, type TensorSize, totalElements } from "../../src/plan/plan.ts";
import { Tensor, tidy } from "../../src/tensor/tensor.ts";
import { configOfShape, gemmaFields, LLAMA_7B, SHAPE_ARCHS } from "../helpers/configs.ts";
import { getBackend, testBackends } from "../helpers/backends.ts";
import { peakDuring } from "../helpers/memory.ts";
import { FAULTS } from "./counts.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

/** Bytes the backend really allocates for `n` f32 elements. */
function allocBytes(be: Backend, n: number): number {
  return be.name === "wasm" ? sizeClass(4 * n) : Math.max(16, Math.ceil((4 * n) / 16) * 16);
}

const configArb = fc.record({
  arch: fc.constantFrom(...SHAPE_ARCHS),
  kv: fc.integer({ min: 1, max: 2 }),
  rep: fc.integer({ min: 1, max: 3 }),
  halfHead: fc.integer({ min: 1, max: 3 }),
  layers: fc.integer({ min: 1, max: 2 }),
  ff: fc.integer({ min: 1, max: 40 }),
  vocab: fc.integer({ min: 2, max: 50 }),
  tie: fc.boolean(),
}).map((r): ModelConfig => {
  const heads = r.kv * r.rep, d = heads * 2 * r.halfHead;
  // GPT-J: each head rotated whole, its head tied or not.
  const json = r.arch === "GPT2LMHeadModel" || r.arch === "GPTJForCausalLM"
    ? {
      architectures: [r.arch],
      n_embd: d,
      n_head: heads,
      n_layer: r.layers,
      n_positions: 16,
      n_inner: r.ff,
      vocab_size: r.vocab,
      ...(r.arch === "GPTJForCausalLM"
        ? { rotary_dim: 2 * r.halfHead, tie_word_embeddings: r.tie }
        : {}),
    }
    : {
      architectures: [r.arch],
      hidden_size: d,
      num_attention_heads: heads,
      num_key_value_heads: r.kv,
      num_hidden_layers: r.layers,
      intermediate_size: r.ff,
      max_position_embeddings: 16,
      vocab_size: r.vocab,
      tie_word_embeddings: r.tie,
      // Qwen3, Gemma: heads twice width / heads. GPT-NeoX: each head rotated whole.
      ...(r.arch === "Qwen3ForCausalLM" ? { head_dim: 4 * r.halfHead } : {}),
      ...gemmaFields(r.arch, 4 * r.halfHead),
      ...(r.arch === "GPTNeoXForCausalLM" ? { rotary_pct: 1 } : {}),
    };
  return parseModelConfig(json, "generated");
});

/**
 * The update's target loss on `be`, as maskedUpdate runs it (src/kne/update.ts): the forward
 * with the head at `h` target rows and the mean cross-entropy there, the inputs uploaded first.
 */
function targetLoss(model: CausalLM, batch: number, t: number, h: number): void {
  const be = model.backend, v = model.config.vocabSize;
  const ids = Tensor.fromArray(be, Array.from({ length: batch * t }, (_, i) => i % v), [batch, t]);
  const rows = Tensor.fromArray(be, Array.from({ length: h }, (_, i) => i), [h]);
  const targets = Tensor.fromArray(be, Array.from({ length: h }, (_, i) => (3 * i) % v), [h]);
  const w = Tensor.fromArray(be, new Array(h).fill(1 / h), [h]);
  A.dot(targetCrossEntropy(model, ids, rows, targets), w);
}

/** Bytes `be` allocates for the listed tensors, counts included. */
function listedBytes(be: Backend, list: readonly TensorSize[]): number {
  return list.reduce((a, x) => a + x.count * allocBytes(be, x.elements), 0);
}

testBackends(
  "plan: the listed activations, head and loss are exactly what the target forward and loss keep (recorded, checkpointed, inference)",
  (be) => {
    fc.assert(
      fc.property(
        configArb,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 21 }),
        fc.constantFrom("recorded", "checkpointed", "inference"),
        (config, batch, t, rows, mode) => {
          const h = Math.min(rows, batch * t);
          const model = buildModel(config, be, initWeights(config, 1));
          model.checkpointLayers = mode === "checkpointed";
          // An inference forward frees each layer's insides as it goes: it keeps what a
          // checkpointed one keeps.
          const checkpointLayers = mode !== "recorded";
          try {
            tidy(() => {
              const before = be.allocatedBytes();
              if (mode === "inference") noGrad(() => targetLoss(model, batch, t, h));
              else targetLoss(model, batch, t, h);
              const measured = be.allocatedBytes() - before;
              const plan = planMemory(config, {
                seqLen: t,
                batch,
                igSteps: 1,
                targetTokens: h,
                backend: be.name,
                checkpointLayers,
              });
              assert.equal(
                measured,
                listedBytes(be, plan.forward) + listedBytes(be, plan.head),
                `${config.hfClass} batch ${batch} t ${t} rows ${h} ${mode}`,
              );
              // The head runs at the target rows only.
              const logits = plan.head.filter((x) => x.name === "logits");
              assert.deepEqual(logits.map((x) => x.elements), [h * config.vocabSize]);
              // The plan's byte totals are the same tensors, unrounded.
              assert.equal(plan.bytes.activations, 4 * totalElements(plan.forward));
              assert.equal(plan.bytes.logits, 4 * totalElements(plan.head));
            });
          } finally {
            disposeModel(model);
          }
        },
      ),
      { numRuns: be.name === "wasm" ? 25 : 10 },
    );
  },
);

testBackends(
  "plan: the head, loss and KL bytes follow the target rows and the vocabulary as the real losses allocate them",
  (be) => {
    for (const name of ["tiny-gpt2", "tiny-llama"]) {
      const fixture = JSON.parse(Deno.readTextFileSync(`${FIXTURES}${name}/config.json`));
      const heads = new Set<number>(), kls = new Set<number>();
      for (const vocab of [fixture.vocab_size, 5 * fixture.vocab_size]) {
        const config = parseModelConfig({ ...fixture, vocab_size: vocab }, name);
        const model = buildModel(config, be, initWeights(config, 2));
        try {
          for (const rows of [1, 6]) {
            const plan = planMemory(config, {
              seqLen: 4,
              batch: 2,
              igSteps: 1,
              targetTokens: rows,
              klRows: rows,
              klSeqLen: 3,
              backend: be.name,
            });
            const what = `${name} vocab ${vocab}, ${rows} rows`;
            // The target loss keeps the forward through its last layer, then the plan's head.
            const head = tidy(() => {
              const before = be.allocatedBytes();
              targetLoss(model, 2, 4, rows);
              return be.allocatedBytes() - before - listedBytes(be, plan.forward);
            });
            assert.equal(head, listedBytes(be, plan.head), what);
            heads.add(head);
            // One batch of `rows` 3-token anchors, built and run as the update does.
            const kl = tidy(() => {
              const before = be.allocatedBytes();
              const prompts = Array.from(
                { length: rows },
                (_, i) => [i, 2 * i, 3].map((x) => x % vocab),
              );
              anchorKl(model, localityAnchor(model, prompts), 1);
              return be.allocatedBytes() - before;
            });
            assert.equal(kl, listedBytes(be, plan.anchors), what);
            kls.add(kl);
            assert.equal(plan.bytes.locality, 4 * totalElements(plan.anchors));
          }
        } finally {
          disposeModel(model);
        }
      }
      // Each vocabulary and row count allocates its own: the head is not a constant.
      assert.equal(heads.size, 4, `${name}: ${[...heads]}`);
      assert.equal(kls.size, 4, `${name}: ${[...kls]}`);
    }
  },
);

const peakConfigArb = fc.record({
  arch: fc.constantFrom(...SHAPE_ARCHS),
  kv: fc.constantFrom(1, 2, 4),
  d: fc.constantFrom(48, 64, 96),
  layers: fc.integer({ min: 1, max: 3 }),
  ff: fc.integer({ min: 96, max: 320 }),
  vocab: fc.integer({ min: 200, max: 600 }),
}).map((r): ModelConfig => configOfShape({ ...r, heads: 4, ctx: 64 }));

/** A GPT-2 shape of peakConfigArb's: width `d`, `layers` layers, FFN width `ff`. */
const gpt2Shape = (d: number, layers: number, ff: number) =>
  configOfShape({ arch: "GPT2LMHeadModel", kv: 4, d, layers, ff, vocab: 200, heads: 4, ctx: 64 });

Deno.test({
  name:
    "plan: attribution and update peaks (with and without a KL term, f32 or f16 matrices, attribution in layer groups, checkpointed layers) bound the measured peaks of the real KNE phases",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const be = await createWasmBackend({ threads: 1 });
    try {
      await fc.assert(
        fc.asyncProperty(
          peakConfigArb,
          fc.integer({ min: 1, max: 2 }),
          fc.integer({ min: 8, max: 40 }),
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 0, max: 3 }),
          fc.constantFrom("f32" as const, "f16" as const),
          fc.integer({ min: 1, max: 3 }),
          // 0.001: one unit, so the update's state is small beside an f32 copy of a weight.
          fc.constantFrom(1, 0.2, 0.001),
          fc.boolean(),
          fc.constantFrom("projection" as const, "neuron" as const),
          async (
            config,
            batch,
            t,
            igSteps,
            klRows,
            weightDtype,
            chunks,
            topP,
            checkpoint,
            ffnUnit,
          ) => {
            const model = buildModel(config, be, initWeights(config, 7), "random", weightDtype);
            model.checkpointLayers = checkpoint;
            try {
              const rows = Array.from({ length: batch }, (_, b) =>
                teacherForced(
                  Array.from({ length: t - 1 - b }, (_, i) => (i * 7 + b) % config.vocabSize),
                  [3, 5],
                  config.contextLength,
                ));
              const hp = {
                ...KNE_DEFAULTS,
                igSteps,
                topP,
                ffnUnit,
                steps: 2,
                earlyStopLoss: 0,
                klWeight: klRows > 0 ? 1 : 0,
              };
              // Anchors as long as the longest row (the plan assumes seqLen for them too).
              const anchors = Array.from(
                { length: klRows },
                (_, a) => Array.from({ length: t - a }, (_, i) => (i * 5 + a) % config.vocabSize),
              );
              const plan = planMemory(config, {
                seqLen: t,
                batch,
                igSteps,
                klRows,
                klSeqLen: t,
                targetTokens: 2 * batch,
                backend: "wasm",
                weightDtype,
                attributionChunks: chunks,
                checkpointLayers: checkpoint,
                ensemble: hp,
              });
              // Allocation rounding (64-byte blocks) of the small tensors alive at the peak: the
              // forward's, their gradients, and four per scored tensor in the update.
              const live = 2 * plan.forward.reduce((a, x) => a + x.count, 0) +
                4 * 4 * config.nLayers * 2;
              const slack = 64 * live + 4096;
              // Peaks above the weights (allocated before). The plan's phase peaks include the
              // WASM allocator's worst-case size-class rounding (1/8): the measured bytes may
              // reach that bound, and without it the modelled tensors must stay tight.
              const above = (peak: number) => peak - plan.bytes.loadPeak;
              const tight = (peak: number) => above(peak) / (1 + 1 / 8);
              // As kneEdit does: the anchors (their reference logits from the unedited model)
              // are made before attribution and held to the end of the update.
              const held = be.allocatedBytes();
              const anchor = klRows > 0 ? localityAnchor(model, anchors) : null;
              const anchorBytes = be.allocatedBytes() - held;
              let attr: Awaited<ReturnType<typeof attribute>> | undefined;
              const attrPeak = anchorBytes + await peakDuring(be, async () => {
                attr = await attribute(model, rows, hp, undefined, chunks);
              });
              const attrPlan = above(plan.bytes.attributionPeak);
              const attrTight = tight(plan.bytes.attributionPeak);
              assert.ok(attrPeak <= attrPlan + slack, `attribution ${attrPeak} > plan ${attrPlan}`);
              assert.ok(attrPeak >= 0.75 * attrTight, `attribution ${attrPeak} << ${attrTight}`);
              const ensemble = selectEnsemble(attr!, hp);
              const updPeak = anchorBytes + await peakDuring(be, async () => {
                try {
                  await maskedUpdate(model, rows, ensemble, hp, anchor ? [[anchor]] : []);
                } finally {
                  if (anchor) freeAnchor(anchor);
                }
              });
              const updPlan = above(plan.bytes.updatePeak);
              const updTight = tight(plan.bytes.updatePeak);
              assert.ok(updPeak <= updPlan + slack, `update ${updPeak} > plan ${updPlan}`);
              // With every unit in the ensemble the bound is its size; with a fraction, the
              // bound assumes the largest units and the measured ones may be smaller.
              if (topP === 1) {
                assert.ok(updPeak >= 0.75 * updTight, `update ${updPeak} << ${updTight}`);
              }
            } finally {
              disposeModel(model);
            }
          },
        ),
        {
          numRuns: 40,
          // Always: one trained unit of a GPT-2 shape and a short prompt, with f16 weights (the
          // f32 copy the non-finite check makes of its weight outweighs a step's tensors), and
          // above layer 0 with checkpointed layers (the layers below it are not run beforehand
          // as one hooked forward holding all their insides).
          examples: [
            [gpt2Shape(96, 1, 320), 1, 8, 1, 0, "f16", 1, 0.001, false, "projection"],
            [gpt2Shape(48, 2, 96), 1, 14, 1, 0, "f32", 1, 0.001, true, "projection"],
          ],
        },
      );
    } finally {
      be.dispose();
    }
  },
});

Deno.test({
  name:
    "plan: a whole KNE edit with a KL term, its anchors held from before attribution, stays under the planned peaks (every anchor per step, or groups)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const be = await createWasmBackend({ threads: 1 });
    // A large vocabulary makes the anchors' reference logits the biggest thing they hold.
    const config = configOfShape({
      arch: "GPT2LMHeadModel",
      d: 48,
      layers: 2,
      ff: 96,
      vocab: 16384,
      heads: 4,
      kv: 4,
      ctx: 64,
    });
    const model = buildModel(config, be, initWeights(config, 3), "random", "f32");
    try {
      const row = teacherForced([1, 2, 3, 4, 5], [6, 7], config.contextLength);
      const prompts = Array.from({ length: 24 }, (_, a) => [8 + a, 9, 10, 11]);
      for (const klAnchorsPerStep of [0, 4]) {
        const hp = {
          ...KNE_DEFAULTS,
          igSteps: 2,
          steps: 3,
          earlyStopLoss: 0,
          klWeight: 1,
          klAnchorsPerStep,
        };
        const rows = {
          seqLen: row.ids.length,
          batch: 1,
          igSteps: 1,
          targetTokens: 2,
          klRows: prompts.length,
          klSeqLen: 4,
          klBatches: [{ rows: prompts.length, seqLen: 4 }],
        };
        const plan = planMemory(config, { ...kneMethod.planWork!(rows, hp), backend: "wasm" });
        const base = be.allocatedBytes();
        const peak = await peakDuring(be, async () => {
          await kneEdit(model, [row], hp, prompts);
        });
        const planned = plan.bytes.devicePeak - plan.bytes.loadPeak;
        assert.ok(
          peak <= planned,
          `klAnchorsPerStep ${klAnchorsPerStep}: the edit peaked ${peak} B above the weights, ` +
            `the plan allows ${planned}`,
        );
        assert.equal(be.allocatedBytes(), base, "the edit left buffers behind");
      }
    } finally {
      disposeModel(model);
      be.dispose();
    }
  },
});

Deno.test("plan: components are finite, peaks grow with the work, GPT-2 sizes are right", () => {
  fc.assert(
    fc.property(
      configArb,
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 1, max: 64 }),
      (config, batch, t) => {
        const p = planMemory(config, { seqLen: t, batch, igSteps: 4, backend: "wasm" });
        for (const [k, v] of Object.entries(p.bytes)) {
          assert.ok(Number.isFinite(v) && v >= 0, `${k} = ${v}`);
        }
        assert.equal(p.bytes.devicePeak, Math.max(p.bytes.attributionPeak, p.bytes.updatePeak));
        const more = planMemory(config, {
          seqLen: t,
          batch: batch + 1,
          igSteps: 4,
          backend: "wasm",
        });
        assert.ok(more.bytes.devicePeak > p.bytes.devicePeak);
        assert.equal(more.bytes.weights, p.bytes.weights);
        // A KL term runs its prompts in every update step: the same flops as that many rows.
        const opts = { seqLen: t, batch, igSteps: 4, updateSteps: 10, backend: "wasm" as const };
        const kl = planMemory(config, { ...opts, klRows: batch, klSeqLen: t, targetTokens: batch });
        const plain = planMemory(config, { ...opts, targetTokens: batch });
        const asRows = planMemory(config, { ...opts, igSteps: 0, targetTokens: batch });
        assert.ok(Math.abs(kl.flops - plain.flops - asRows.flops) <= 1e-9 * kl.flops);
      },
    ),
    { numRuns: 200 },
  );
  // GPT-2 small: 124,439,808 parameters (tied head), 84,934,656 in the scored projections.
  const gpt2Json = {
    architectures: ["GPT2LMHeadModel"],
    n_embd: 768,
    n_head: 12,
    n_layer: 12,
    n_positions: 1024,
    vocab_size: 50257,
  };
  const gpt2 = parseModelConfig(gpt2Json, "gpt2");
  const p = planMemory(gpt2, { seqLen: 16, batch: 1, igSteps: 4, backend: "webgpu" });
  assert.equal(p.params.total, 124_439_808);
  assert.equal(
    p.params.scored,
    12 * (768 * 2304 + 2304 + 768 * 768 + 768 + 2 * 768 * 3072 + 3072 + 768),
  );
  assert.equal(p.largest.name, "transformer.wte.weight");
  // On lavapipe (128 MiB per binding, 2 GiB per buffer) its 154 MB embedding is split by rows:
  // it fits. A 4 GB embedding cannot be one buffer; a 160 MB logits row cannot be split.
  const lavapipe: BackendLimits = {
    backend: "webgpu",
    deviceBytes: null,
    deviceIsHost: true,
    hostAvailable: 64e9,
    maxBindingBytes: 128 * 2 ** 20,
    maxBufferBytes: 2 ** 31 - 1,
    description: "lavapipe",
  };
  assert.deepEqual(planProblems(p, lavapipe, "edit"), []);
  assert.match(formatPlan(p, lavapipe), /fits: yes/);
  assert.match(formatPlan(p, lavapipe), /124,439,808 parameters/);
  const wide = planMemory(
    parseModelConfig({ ...gpt2Json, vocab_size: 256_000, n_embd: 4096, n_head: 32 }, "wide"),
    { seqLen: 16, batch: 1, igSteps: 4, backend: "webgpu" },
  );
  const problems = planProblems(wide, lavapipe, "load");
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(
    problems[0],
    /transformer\.wte\.weight, f32, 4\.19 GB\) exceeds .* 2\.15 GB per buffer/,
  );
  // Held in f16 the same table is one 2.10 GB buffer: under the limit.
  const wideHalf = planMemory(wide.config, {
    seqLen: 16,
    batch: 1,
    igSteps: 4,
    backend: "webgpu",
    weightDtype: "f16",
  });
  assert.deepEqual(wideHalf.largest, {
    name: "transformer.wte.weight",
    bytes: 2 * 256_000 * 4096,
    dtype: "f16",
    count: 1,
  });
  assert.deepEqual(planProblems(wideHalf, lavapipe, "load"), []);
  const rowy = planMemory(parseModelConfig({ ...gpt2Json, vocab_size: 40_000_000 }, "rowy"), {
    seqLen: 1,
    batch: 1,
    igSteps: 1,
    backend: "webgpu",
  });
  const rp = planProblems(rowy, { ...lavapipe, maxBufferBytes: 1e15, hostAvailable: 1e15 }, "load");
  assert.equal(rp.length, 1, rp.join("\n"));
  assert.match(rp[0], /one row of 160\.00 MB .* per binding/);
  assert.match(formatPlan(wide, lavapipe), /fits: NO/);
  FAULTS.add("plan", 1);
});

Deno.test("plan: fitPlan picks the fastest plan that fits: layer groups, checkpointed layers", () => {
  // Llama-2-7B's shape with f16 matrices and KNE's default selection, on GPUs of 40 and 24 GiB.
  const cfg = LLAMA_7B;
  const gpu = (gib: number): BackendLimits => ({
    backend: "webgpu",
    deviceBytes: gib * 2 ** 30,
    deviceIsHost: false,
    hostAvailable: 1e12,
    maxBindingBytes: 2 ** 31,
    maxBufferBytes: 2 ** 40,
    description: `${gib} GiB GPU`,
  });
  const work = {
    seqLen: 15,
    batch: 1,
    igSteps: 4,
    updateSteps: 20,
    targetTokens: 4,
    backend: "webgpu" as const,
    weightDtype: "f16" as const,
    ensemble: KNE_DEFAULTS,
  };
  const one = planMemory(cfg, work);
  // The update trains only the ensemble's entries: its state is far below attribution's gradients.
  assert.ok(one.bytes.optimizer < one.bytes.gradients / 5);
  assert.ok(one.bytes.updatePeak < one.bytes.attributionPeak);
  const big = fitPlan(cfg, work, gpu(40));
  assert.equal(big.options.attributionChunks, 1, "one pass fits 40 GiB");
  assert.deepEqual(planProblems(big, gpu(40), "edit"), []);
  const small = fitPlan(cfg, work, gpu(24));
  const chunks = small.options.attributionChunks;
  assert.ok(one.bytes.attributionPeak > 24 * 2 ** 30, "one pass does not fit 24 GiB");
  assert.ok(chunks > 1, `chose ${chunks} groups`);
  assert.deepEqual(planProblems(small, gpu(24), "edit"), []);
  assert.match(formatPlan(small, gpu(24)), new RegExp(`attribution: ${chunks} passes`));
  // The fewest: the next larger groups (one fewer pass that changes their size) do not fit.
  const layers = Math.ceil(cfg.nLayers / chunks);
  let fewer = chunks - 1;
  while (fewer > 1 && Math.ceil(cfg.nLayers / fewer) === layers) fewer--;
  const tooFew = planMemory(cfg, { ...work, attributionChunks: fewer });
  assert.notDeepEqual(planProblems(tooFew, gpu(24), "edit"), []);
  // Gradient memory scales with the group, everything else stays.
  assert.equal(small.bytes.gradients, one.bytes.gradients / cfg.nLayers * layers);
  assert.equal(small.bytes.activations, one.bytes.activations);
  assert.equal(small.bytes.updatePeak, one.bytes.updatePeak);
  assert.equal(small.options.checkpointLayers, false, "short edits need no checkpointing");
  // Nothing fits 12 GiB (the f16 weights alone are 13.5 GB): the plan says why.
  const none = fitPlan(cfg, work, gpu(12));
  assert.match(planProblems(none, gpu(12), "edit").join("\n"), /needs .* but it has/);
  // At 1024 tokens the activations (23 GB) dominate: on 40 GiB, splitting attribution alone
  // fits only with many groups, and checkpointed layers in one pass are faster.
  const long = { ...work, seqLen: 1024 };
  const chosen = fitPlan(cfg, long, gpu(40));
  assert.deepEqual(planProblems(chosen, gpu(40), "edit"), []);
  assert.equal(chosen.options.checkpointLayers, true);
  assert.ok(chosen.bytes.activations < planMemory(cfg, long).bytes.activations / 10);
  assert.match(formatPlan(chosen, gpu(40)), /checkpointed layers/);
  let slower = 0;
  for (let chunks = 1; chunks <= cfg.nLayers; chunks++) {
    const plain = planMemory(cfg, { ...long, attributionChunks: chunks });
    if (planProblems(plain, gpu(40), "edit").length > 0) continue;
    assert.ok(
      plain.flops > chosen.flops,
      `${chunks} groups without checkpointing fit and are faster`,
    );
    slower++;
  }
  assert.ok(slower > 0, "some plan without checkpointing fits (and is slower)");
});

/** Writes a folder claiming Llama-3-70B: its config and a sparse checkpoint of its embedding. */
async function fake70B(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kne-70b-" });
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({
      architectures: ["LlamaForCausalLM"],
      hidden_size: 8192,
      intermediate_size: 28672,
      num_attention_heads: 64,
      num_key_value_heads: 8,
      num_hidden_layers: 80,
      max_position_embeddings: 8192,
      vocab_size: 128256,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
    }),
  );
  const bytes = 128256 * 8192 * 2;
  let header = JSON.stringify({
    "__metadata__": { format: "pt" },
    "model.embed_tokens.weight": { dtype: "BF16", shape: [128256, 8192], data_offsets: [0, bytes] },
  });
  header += " ".repeat((8 - (header.length % 8)) % 8);
  const h = new TextEncoder().encode(header);
  const f = await Deno.open(`${dir}/model.safetensors`, { write: true, create: true });
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true);
  await f.write(len);
  await f.write(h);
  await f.truncate(8 + h.length + bytes); // sparse: 2.1 GB declared, nothing written
  f.close();
  return dir;
}

testBackends("plan: a 70B model is refused before any weight is read", async (be) => {
  const kind = be.name;
  const dir = await fake70B();
  try {
    const mem0 = Deno.memoryUsage();
    const alloc0 = be.allocatedBytes();
    const err = await loadModel(dir, be, { work: { seqLen: 16, batch: 1, igSteps: 4 } }).then(
      () => null,
      (e) => e,
    );
    const mem1 = Deno.memoryUsage();
    assert.ok(err instanceof ResourceError, `expected ResourceError, got ${err}`);
    assert.match(err.message, /70,553,706,496 parameters does not fit/);
    assert.match(err.message, /needs [\d.]+ (GB|TB) of system memory.*but [\d.]+ \w+ is available/);
    if (kind === "wasm") assert.match(err.message, /wasm32 memory is capped at 4 GiB/);
    else {
      // Its largest buffer is the embedding, held in f16 on WebGPU (BF16 in the file): 2.10 GB,
      // over the device's per-buffer limit or not (llvmpipe: 2.15 GB).
      const embedding = 2 * 128256 * 8192;
      const check = embedding > be.limits().maxBufferBytes ? assert.match : assert.doesNotMatch;
      check(err.message, /model\.embed_tokens\.weight, f16, 2\.10 GB\) exceeds the WebGPU/);
    }
    assert.match(err.message, /before reading any weight/);
    assert.equal(be.allocatedBytes(), alloc0, "no device memory allocated");
    const grew = Math.max(mem1.rss - mem0.rss, mem1.external - mem0.external);
    assert.ok(grew < 64e6, `memory grew by ${grew} bytes`);
    // The check alone (load phase) refuses it too.
    await assert.rejects(checkBeforeLoad(dir, be), ResourceError);
    FAULTS.add("plan", 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "plan: the tiny fixtures pass the check; a bad folder gives the usual file errors",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const be = await getBackend("wasm");
    const r = await checkBeforeLoad(`${FIXTURES}tiny-gpt2`, be, {
      seqLen: 32,
      batch: 4,
      igSteps: 4,
    });
    r.checkpoint.close();
    assert.equal(r.file.tensors, 28);
    assert.ok(r.plan.bytes.devicePeak < 20e6);
    const empty = await Deno.makeTempDir();
    try {
      await assert.rejects(checkBeforeLoad(empty, be), /config\.json.*cannot read/);
      await Deno.copyFile(`${FIXTURES}tiny-gpt2/config.json`, `${empty}/config.json`);
      await assert.rejects(
        checkBeforeLoad(empty, be),
        /file not found \(is this a model folder\?\)/,
      );
      // --plan reads the weights' dtype from the same header, with the same error.
      await assert.rejects(
        weightDtypeFor(empty, be, "auto"),
        /file not found \(is this a model folder\?\)/,
      );
    } finally {
      await Deno.remove(empty, { recursive: true });
    }
  },
});
