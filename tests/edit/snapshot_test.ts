// Snapshots of what an edit may change: UnitSnapshot (only the selected rows / columns, read and
// written through gatherUnits / scatterUnits) lists exactly the changes a whole-tensor Snapshot
// lists when only those units moved, and restores every bit, for GPT-2's [in, out] weights and
// biases and Llama's [out, in] weights, f32 and f16, on both backends.

import assert from "node:assert/strict";
import { Snapshot, type UnitSelection, UnitSnapshot } from "../../src/edit/snapshot.ts";
import type { TensorChange } from "../../src/io/patch.ts";
import { disposeModel } from "../../src/model/build.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { scatterUnits, unitMatrix } from "../../src/tensor/ops.ts";
import { Tensor, tidy } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { randomData } from "../helpers/reference.ts";

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

/** Every third unit of each projection weight and bias (columns of in_out, rows of out_in). */
function selections(model: CausalLM): UnitSelection[] {
  const out: UnitSelection[] = [];
  for (const info of model.paramInfo) {
    if (info.layer < 0 || (info.layout !== "in_out" && info.layout !== "out_in")) continue;
    const axis = info.layout === "in_out" ? 1 : 0;
    const n = info.shape[axis];
    const units = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 === 1);
    out.push({ name: info.name, units, axis });
    const bias = info.name.replace(/\.weight$/, ".bias");
    if (model.params.has(bias)) out.push({ name: bias, units, axis: 1 });
  }
  return out;
}

function sameChanges(a: TensorChange[], b: TensorChange[]): void {
  assert.deepEqual(a.map((c) => c.name), b.map((c) => c.name));
  a.forEach((c, i) => {
    const d = b[i];
    assert.deepEqual([...c.indices], [...d.indices], `${c.name} indices`);
    assert.deepEqual(
      [...new Uint32Array(c.before.buffer)],
      [...new Uint32Array(d.before.buffer)],
      `${c.name} before`,
    );
    assert.deepEqual(
      [...new Uint32Array(c.after.buffer)],
      [...new Uint32Array(d.after.buffer)],
      `${c.name} after`,
    );
  });
}

for (const name of ["tiny-gpt2", "tiny-llama"]) {
  for (const dtype of ["f32", "f16"] as const) {
    testBackends(
      `${name} (${dtype}): UnitSnapshot diffs and restores exactly its units`,
      async (be) => {
        const { model } = await loadModel(fixture(name), be, { tokenizer: false, dtype });
        try {
          const sels = selections(model);
          const before = new Map<string, Uint32Array>();
          for (const [n, p] of model.params) {
            before.set(n, new Uint32Array((await p.value.toArray()).buffer));
          }
          const full = await Snapshot.take(model, sels.map((s) => s.name));
          const units = await UnitSnapshot.take(model, sels);
          // Move every selected entry (some to values that round back to themselves in f16).
          sels.forEach((sel, i) =>
            tidy(() => {
              const m = unitMatrix(model.params.get(sel.name)!.value);
              const k = sel.units.length;
              const shape = sel.axis === 0 ? [k, m.shape[1]] : [m.shape[0], k];
              const vals = randomData(shape[0] * shape[1], 100 + i);
              scatterUnits(
                m,
                Tensor.fromArray(be, vals, shape),
                Tensor.fromArray(be, sel.units, [k]),
                sel.axis,
              );
            })
          );
          const changes = await units.changes();
          assert.ok(changes.length > 0, "the test moved nothing");
          sameChanges(changes, await full.changes());
          units.restore();
          for (const [n, p] of model.params) {
            const now = new Uint32Array((await p.value.toArray()).buffer);
            assert.deepEqual([...now], [...before.get(n)!], `${n} after restore`);
          }
        } finally {
          disposeModel(model);
        }
      },
    );
  }
}
