// bench/peers/: without torch a bench gets a note saying why its PyTorch figure is missing, and a
// peer that cannot start or fails reports that. Where a python3 imports torch: the KNE edit peer
// scores as many units as src/kne/ does on the same shape (GPT-2 and Llama) and keeps as many,
// runs every update step and changes entries, and on the tiny GPT-2 fixture's weights edits as
// kneEdit does (target probability, units, changed entries, every step's loss); the model-step
// peer gives the torch oracle's loss on both fixtures and, with and without its KV cache, the
// greedy tokens of src/model/generate.ts. No timing is checked.

import { deepEqual, equal, ok } from "node:assert/strict";
import { NO_TORCH_NOTE, runTorchPeer, torchPython } from "../../bench/peers/torch.ts";
import { createWasmBackend } from "../../engine/wasm/backend.ts";
import { teacherForced } from "../../src/edit/request.ts";
import { openSafetensors } from "../../src/io/safetensors.ts";
import { scoredParams, unitShape } from "../../src/kne/attribution.ts";
import { keptUnits } from "../../src/kne/ensemble.ts";
import { KNE_DEFAULTS } from "../../src/kne/hparams.ts";
import { kneEdit } from "../../src/kne/kne.ts";
import { disposeModel, paramInfoFor } from "../../src/model/build.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { generate } from "../../src/model/generate.ts";
import { readModelConfig } from "../../src/model/read-config.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { TINY } from "../helpers/tiny.ts";

const py = await torchPython();
const fixture = (name: string) =>
  readModelConfig(new URL(`../fixtures/${name}`, import.meta.url).pathname);

Deno.test("without torch no peer runs and the note says why", async () => {
  equal(await torchPython(["/nonexistent/python3"]), null);
  const r = await runTorchPeer(null, "torch_edit.py", { threads: 1 });
  ok(!r.ok && r.note === NO_TORCH_NOTE);
  ok(NO_TORCH_NOTE.includes("not measured") && NO_TORCH_NOTE.includes("python3-torch"));
});

Deno.test("a peer whose interpreter cannot start says so", async () => {
  const r = await runTorchPeer("/nonexistent/python3", "torch_edit.py", { threads: 1 });
  ok(!r.ok && r.note.startsWith("PyTorch: torch_edit.py did not start"), JSON.stringify(r));
});

const HP = { ...KNE_DEFAULTS, steps: 3, earlyStopLoss: 0 };

function editInput(config: ModelConfig, hp: Record<string, unknown> = HP) {
  return {
    config,
    prompt: [5, 17, 3, 40, 8],
    target: [12, 60, 7],
    anchors: [[9, 21, 33, 4], [50, 2, 71, 30]],
    hp,
    edits: 1,
    warmup: 0,
    threads: 1,
  };
}

for (const name of ["tiny-gpt2", "tiny-llama"]) {
  Deno.test({
    name: `torch_edit.py on ${name}: the units of src/kne/, all its steps, a real change`,
    ignore: !py,
    fn: async () => {
      const config = await fixture(name);
      const r = await runTorchPeer(py, "torch_edit.py", editInput(config));
      if (!r.ok) throw new Error(r.note);
      const v = r.value as Record<string, number>;
      const units = scoredParams({ paramInfo: paramInfoFor(config) })
        .reduce((a, s) => a + unitShape(s.info, s.axis).units, 0);
      equal(v.totalUnits, units);
      equal(v.ensembleUnits, keptUnits(units, config.nLayers, HP));
      equal(v.steps, HP.steps);
      ok(Number.isFinite(v.lossFirst) && Number.isFinite(v.lossLast));
      ok(v.changedEntries > 0, "the edit changed nothing");
      // Each unit is one output row of a projection and its bias entry.
      ok(v.changedEntries <= v.ensembleUnits * (Math.max(config.dModel, config.dFF) + 1));
    },
  });
}

Deno.test({
  name: "torch_edit.py refuses a KNE variant it does not implement",
  ignore: !py,
  fn: async () => {
    const r = await runTorchPeer(
      py,
      "torch_edit.py",
      editInput(await fixture("tiny-gpt2"), { ...HP, selection: "per_layer" }),
    );
    ok(!r.ok && r.note.includes("runs the plain KNE edit"), JSON.stringify(r));
  },
});

for (const name of ["tiny-gpt2", "tiny-llama"]) {
  Deno.test({
    name: `torch_model.py on ${name}'s weights: the torch oracle's loss, greedy tokens as ours`,
    ignore: !py,
    fn: async () => {
      const dir = new URL(`../fixtures/${name}`, import.meta.url).pathname;
      const expected = await openSafetensors(`${dir}/expected.safetensors`);
      const tokens = Array.from(await expected.read("input_ids"));
      const r = await runTorchPeer(py, "torch_model.py", {
        config: await readModelConfig(dir),
        weights: `${dir}/model.safetensors`,
        ids: tokens.slice(0, -1),
        targets: tokens.slice(1),
        rounds: 2,
        threads: 1,
        generate: 8,
      });
      expected.close();
      if (!r.ok) throw new Error(r.note);
      const v = r.value as {
        msAll: number[];
        loss: number;
        generation: { cachedTokens: number[]; fullTokens: number[] };
      };
      equal(v.msAll.length, 2);
      const want = Number(expected.metadata.loss_f64);
      ok(Math.abs(v.loss - want) < 1e-4, `loss ${v.loss}, oracle ${want}`);
      const be = await createWasmBackend({ threads: 1 });
      const m = await loadModel(dir, be);
      try {
        const ours = await generate(m.model, tokens.slice(0, -1), { maxNewTokens: 8 });
        deepEqual(v.generation.cachedTokens, ours.tokens);
        deepEqual(v.generation.fullTokens, ours.tokens.slice(0, 3));
      } finally {
        disposeModel(m.model);
        be.dispose();
      }
    },
  });
}

Deno.test({
  name: "torch_edit.py on tiny-gpt2's weights edits as src/kne/ does, KL term included",
  ignore: !py,
  fn: async () => {
    const be = await createWasmBackend({ threads: 1 });
    const m = await loadModel(TINY, be);
    try {
      const hp = { ...HP, steps: 6, topP: 0.05 };
      const input = editInput(m.model.config, hp);
      const ours = await kneEdit(
        m.model,
        [teacherForced(input.prompt, input.target, m.model.config.contextLength)],
        hp,
        input.anchors,
      );
      const r = await runTorchPeer(py, "torch_edit.py", {
        ...input,
        weights: `${TINY}/model.safetensors`,
      });
      if (!r.ok) throw new Error(r.note);
      const v = r.value as Record<string, number> & { losses: number[] };
      ok(Math.abs(v.targetProbBefore / ours.attribution.targetProb - 1) < 1e-4);
      equal(v.ensembleUnits, ours.ensemble.selectedUnits);
      equal(v.changedEntries, ours.changes.reduce((a, c) => a + c.indices.length, 0));
      equal(v.losses.length, ours.update.losses.length);
      v.losses.forEach((l, i) =>
        ok(Math.abs(l - ours.update.losses[i]) < 1e-4, `step ${i}: ${l} ${ours.update.losses[i]}`)
      );
    } finally {
      disposeModel(m.model);
      be.dispose();
    }
  },
});
