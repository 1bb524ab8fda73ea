// The measuring backend and the planner's measured activations: the backend counts what the WASM
// backend allocates for the same forward and backward (live bytes after, peak during; tiny
// GPT-2 and Llama fixtures, recorded and checkpointed), it checks what a real backend checks
// (binding sizes, freed buffers, owners) and holds no data; the planner's forward and head lists
// are the measured ones (the head and loss at the target rows, their inputs named), its layers
// scaled from a 1- and 2-layer model (the last layer apart: with rows read it goes on from its
// attention with those rows only), and a 7B or 70B config plans without host memory of a weight's
// size.

import assert from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { MeasuringBackend } from "../../engine/measure/backend.ts";
import { sizeClass } from "../../engine/wasm/allocator.ts";
import { createWasmBackend, type WasmBackend } from "../../engine/wasm/backend.ts";
import { backward } from "../../src/autograd/variable.ts";
import { buildModel, disposeModel, initWeights } from "../../src/model/build.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { lmLoss } from "../../src/model/loss.ts";
import { parseModelConfig, readModelConfig } from "../../src/model/read-config.ts";
import { measureForward } from "../../src/plan/activations.ts";
import { LLAMA_7B } from "../helpers/configs.ts";
import { forwardTensors, planMemory } from "../../src/plan/plan.ts";
import { Tensor, tidy } from "../../src/tensor/tensor.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

interface Counts {
  /** Bytes the forward keeps. */
  kept: number;
  /** Peak above the start during forward, loss and backward. */
  peak: number;
  /** Bytes left after the step's scope closed (the parameters' gradients). */
  after: number;
}

/** Forward, loss and backward of `config` on `be`, counted by allocatedBytes(). */
function step(
  be: Backend & { peakBytes(): number; resetPeak(): void },
  config: ModelConfig,
  checkpointed: boolean,
): Counts {
  const model = buildModel(config, be, initWeights(config, 3));
  model.checkpointLayers = checkpointed;
  try {
    const batch = 2, t = 7;
    const ids = Array.from({ length: batch * t }, (_, i) => (i * 5) % config.vocabSize);
    const targets = ids.map((x, i) => i % t === t - 1 ? -1 : x);
    const base = be.allocatedBytes();
    be.resetPeak();
    let kept = 0;
    tidy(() => {
      const before = be.allocatedBytes();
      const idT = Tensor.fromArray(be, ids, [batch, t]);
      const inputs = be.allocatedBytes() - before;
      model.forward(idT);
      kept = be.allocatedBytes() - before - inputs;
      const { loss } = lmLoss(model, ids, targets, batch);
      backward(loss);
    });
    const out = { kept, peak: be.peakBytes() - base, after: be.allocatedBytes() - base };
    for (const p of model.params.values()) p.zeroGrad();
    return out;
  } finally {
    disposeModel(model);
  }
}

Deno.test({
  name:
    "measure: the measuring backend counts what the WASM backend allocates (forward, backward, tiny fixtures)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const wasm: WasmBackend = await createWasmBackend({ threads: 1 });
    try {
      for (const name of ["tiny-gpt2", "tiny-llama"]) {
        const config = await readModelConfig(`${FIXTURES}${name}`);
        for (const checkpointed of [false, true]) {
          const measuring = new MeasuringBackend({ roundBytes: sizeClass });
          const real = step(wasm, config, checkpointed);
          const counted = step(measuring, config, checkpointed);
          assert.ok(real.kept > 0 && real.peak > real.kept, JSON.stringify(real));
          assert.deepEqual(counted, real, `${name} checkpointed ${checkpointed}`);
          assert.equal(measuring.allocatedBytes(), 0, "everything freed is uncounted");
        }
      }
    } finally {
      wasm.dispose();
    }
  },
});

Deno.test("measure: the measuring backend checks its arguments and holds no data", async () => {
  const be = new MeasuringBackend();
  const a = be.alloc(8), b = be.alloc(8), w = be.alloc(6, "f16");
  assert.equal(be.allocatedBytes(), 8 * 4 + 8 * 4 + 6 * 2);
  assert.deepEqual(be.liveBuffers().map((x) => x.id), [a.id, b.id, w.id]);
  be.upload(a, new Float32Array(8).fill(3));
  assert.deepEqual(await be.read(a), new Float32Array(8), "reads are zeros: nothing is stored");
  assert.equal((await be.read(a, 2, 3)).length, 3);
  assert.throws(() => be.upload(a, new Float32Array(9)), /outside buffer/);
  assert.throws(() => be.upload(a, new Uint16Array(2)), /holds f32/);
  // Dispatches check their bindings as the real backends do.
  be.dispatch("add", [a, a, b], [8]);
  assert.equal(be.liveBuffers()[1].writer, "add");
  assert.deepEqual(be.liveBuffers()[1].sources, [a.id, a.id]);
  assert.throws(() => be.dispatch("add", [a, a, be.alloc(4)], [8]), /holds 4 elements, needs 8/);
  assert.throws(() => be.dispatch("add", [a, w, b], [6]), /holds f16/);
  const other = new MeasuringBackend();
  assert.throws(() => be.dispatch("add", [a, other.alloc(8), b], [8]), /belongs to/);
  const peak = be.peakBytes();
  be.free(b);
  assert.equal(be.allocatedBytes(), peak - 8 * 4);
  assert.equal(be.peakBytes(), peak);
  assert.throws(() => be.dispatch("add", [a, a, b], [8]), /was freed/);
  assert.throws(() => be.free(b), /was freed/);
});

Deno.test("measure: the plan's forward and head are the measured ones, its layers counted nLayers - 1 times and the last apart", () => {
  for (const name of ["tiny-gpt2", "tiny-llama"]) {
    const config = parseModelConfig(
      JSON.parse(Deno.readTextFileSync(`${FIXTURES}${name}/config.json`)),
      name,
    );
    for (const checkpointed of [false, true]) {
      // Without a head: the logits of every row, last.
      const all = measureForward(config, 3, 5, checkpointed);
      assert.equal(all.after.at(-1)!.name, "logits");
      assert.equal(all.after.at(-1)!.elements, 3 * 5 * config.vocabSize);
      // Reading every row, the last layer is a whole one.
      const sizes = (list: { elements: number }[]) => list.map((x) => x.elements);
      assert.deepEqual(sizes(all.last), sizes(all.layer));
      const m = measureForward(config, 3, 5, checkpointed, "f32", { loss: "update", rows: 4 });
      // The head and the loss change nothing before the last layer's output.
      assert.deepEqual([m.before, m.layer], [all.before, all.layer]);
      const { layers, head } = forwardTensors(config, m);
      assert.deepEqual(layers.slice(0, m.before.length), m.before);
      const layered = layers.slice(m.before.length, m.before.length + m.layer.length);
      assert.deepEqual(layered, m.layer.map((x) => ({ ...x, count: config.nLayers - 1 })));
      assert.equal(layers.length, m.before.length + m.layer.length + m.last.length);
      // Reading 4 rows, the last layer ends with their residual sum [4, d], and keeps less.
      assert.equal(m.last.at(-1)!.name, "last layer add");
      assert.equal(m.last.at(-1)!.elements, 4 * config.dModel);
      const total = (list: { elements: number }[]) => list.reduce((a, x) => a + x.elements, 0);
      assert.ok(total(m.last) < total(m.layer));
      assert.deepEqual(layers.slice(-m.last.length), m.last);
      // Checkpointed, a layer keeps its output alone; recorded, it starts at its first norm and
      // ends at its residual sum.
      if (checkpointed) assert.deepEqual(m.layer.map((x) => x.elements), [3 * 5 * config.dModel]);
      else assert.match(m.layer[0].name, /^layer (layernorm|rmsnorm)$/);
      assert.equal(m.layer.at(-1)!.name, "layer add");
      // The inputs first, named by the loss; the logits at the target rows only.
      assert.deepEqual(head.slice(0, 4).map((x) => x.name), ["ids", "rows", "targets", "weights"]);
      assert.deepEqual(
        head.filter((x) => x.name === "logits").map((x) => x.elements),
        [4 * config.vocabSize],
      );
      const plan = planMemory(config, {
        seqLen: 5,
        batch: 3,
        igSteps: 1,
        targetTokens: 4,
        backend: "wasm",
        checkpointLayers: checkpointed,
      });
      assert.deepEqual(plan.forward, layers);
      // The update's loss keeps its mean besides what attribution's keeps: the plan holds it.
      assert.deepEqual(plan.head, head);
      // A checkpointed layer's recomputation holds what a recorded layer keeps.
      const layer = measureForward(config, 3, 5, false).layer;
      const recompute = 4 * layer.reduce((a, x) => a + x.elements, 0);
      assert.equal(plan.bytes.recompute, checkpointed ? recompute : 0);
    }
  }
});

Deno.test("measure: a 7B config plans from a 2-layer measurement, no weight made on the host", () => {
  const mem0 = Deno.memoryUsage();
  const work = { seqLen: 1024, batch: 1, igSteps: 4, backend: "webgpu" as const };
  const plain = planMemory(LLAMA_7B, work);
  const ckpt = planMemory(LLAMA_7B, { ...work, checkpointLayers: true });
  const mem1 = Deno.memoryUsage();
  // One layer's f32 q_proj alone is 67 MB, the embedding 524 MB: none was made.
  const grew = Math.max(mem1.rss - mem0.rss, mem1.external - mem0.external);
  assert.ok(grew < 64e6, `memory grew by ${grew} bytes`);
  const R = 1024, d = 4096;
  // Checkpointed, the forward keeps each layer's output [R, d]; a plain one far more per layer.
  // Through the last layer a plain forward keeps the embeddings [R, d], the rotary table [64]
  // (head size 128), 31 layers' and the last's.
  assert.equal(ckpt.forward.filter((x) => x.count === 31).length, 1);
  assert.ok(plain.bytes.activations > 10 * ckpt.bytes.activations);
  const last = plain.forward.filter((x) => x.name.startsWith("last layer "));
  const lastBytes = 4 * last.reduce((a, x) => a + x.elements, 0);
  assert.equal(ckpt.bytes.recompute * 31, plain.bytes.activations - 4 * (R * d + 64) - lastBytes);
});
