// KNE on f16 weights: the edit succeeds and every changed matrix entry is an f16 value the model
// holds (what the patch records is exact), and writing the changes back on the device restores
// the original bits and re-applies the edited ones; and the f32 master copies keep Adam steps
// smaller than half an f16 ulp, which rounding alone would discard at every step.

import { writeChanges } from "../../src/edit/snapshot.ts";
import { kneEdit } from "../../src/kne/kne.ts";
import { disposeModel } from "../../src/model/build.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { testBackends } from "../helpers/backends.ts";
import { TINY_HP } from "../helpers/kne.ts";
import { predicts, sameBits, target, TINY, weights } from "../helpers/tiny.ts";

testBackends("KNE edits an f16 model and records exactly the f16 values it holds", async (be) => {
  const m = await loadModel(TINY, be, { dtype: "f16" });
  try {
    const t = target(m, "The capital of France is", "Tokyo");
    if (await predicts(m, t)) throw new Error("the random model already predicts the target");
    const r = await kneEdit(m.model, [t.row], TINY_HP);
    if (r.rolledBack) throw new Error("edit diverged");
    if (!(await predicts(m, t))) throw new Error(`no edit after ${r.update.steps} steps`);
    let matrices = 0;
    for (const c of r.changes) {
      const p = m.model.params.get(c.name)!;
      if (p.value.dtype !== "f16") continue;
      matrices++;
      const now = await p.value.toArray();
      c.indices.forEach((i, k) => {
        if (Math.f16round(c.after[k]) !== c.after[k]) {
          throw new Error(`${c.name}[${i}] = ${c.after[k]} is not an f16 value`);
        }
        if (now[i] !== c.after[k]) throw new Error(`${c.name}[${i}]: model and patch differ`);
      });
    }
    if (matrices === 0) throw new Error("the edit changed no f16 matrix");
    // Written back on the device (as the edit command restores and re-applies edits): "before"
    // gives every tensor its original bits, "after" the edited ones.
    const edited = await weights(m);
    writeChanges(m.model, r.changes, "before");
    const reverted = await weights(m);
    for (const c of r.changes) {
      const now = reverted.get(c.name)!;
      c.indices.forEach((i, k) => {
        if (!Object.is(now[i], c.before[k])) throw new Error(`${c.name}[${i}] not restored`);
      });
    }
    writeChanges(m.model, r.changes, "after");
    for (const [n, w] of await weights(m)) {
      if (!sameBits(w, edited.get(n)!)) throw new Error(`${n} differs after re-applying`);
      if (!r.changes.some((c) => c.name === n) && !sameBits(w, reverted.get(n)!)) {
        throw new Error(`${n} was not edited but changed`);
      }
    }
  } finally {
    disposeModel(m.model);
  }
});

testBackends("f32 masters accumulate KNE steps below half an f16 ulp", async (be) => {
  // Adam moves an entry by at most lr (1 - beta1) / sqrt(1 - beta2) ~ 3.2 lr per step: with
  // lr = 4e-6 that is below 1.3e-5, under half the f16 ulp (2^-16 ~ 1.5e-5) of every |w| >= 2^-5,
  // so rounding each step back to f16 would leave those entries unchanged forever.
  const lr = 4e-6;
  const m = await loadModel(TINY, be, { dtype: "f16" });
  try {
    const t = target(m, "The capital of France is", "Tokyo");
    const r = await kneEdit(m.model, [t.row], { ...TINY_HP, lr, steps: 24, earlyStopLoss: 0 });
    if (r.rolledBack) throw new Error("edit diverged");
    let moved = 0;
    for (const c of r.changes) {
      if (m.model.params.get(c.name)!.value.dtype !== "f16") continue;
      c.before.forEach((b, k) => {
        if (Math.abs(b) >= 2 ** -5 && c.after[k] !== b) moved++;
      });
    }
    if (moved === 0) throw new Error("no entry with |w| >= 2^-5 moved: sub-ulp steps were lost");
  } finally {
    disposeModel(m.model);
  }
});
