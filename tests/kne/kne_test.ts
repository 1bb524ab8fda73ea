// KNE end to end on the tiny oracle GPT-2: the edit makes the target the argmax, changes only
// entries inside the ensemble (everything else bit-identical), sequential edits keep earlier
// ones, the sparse patch reproduces the edited and original weights bit for bit, and a diverging
// edit is rolled back.

import { applyPatchTo, readPatch, writePatch } from "../../src/io/patch.ts";
import { kneEdit } from "../../src/kne/kne.ts";
import { unitEntries } from "../../src/kne/attribution.ts";
import { testBackends } from "../helpers/backends.ts";
import { TINY_HP } from "../helpers/kne.ts";
import { predicts, sameBits, target, weights, withModel } from "../helpers/tiny.ts";

testBackends(
  "KNE makes the target the argmax and changes nothing outside the ensemble",
  async (be) => {
    await withModel(be, async (m) => {
      const t = target(m, "The capital of France is", "Tokyo");
      if (await predicts(m, t)) throw new Error("the random model already predicts the target");
      const before = await weights(m);
      const r = await kneEdit(m.model, [t.row], TINY_HP);
      if (r.rolledBack) throw new Error("edit diverged");
      if (!(await predicts(m, t))) {
        throw new Error(`target is not the argmax after ${r.update.steps} steps`);
      }
      const after = await weights(m);
      const allowed = new Map<string, Set<number>>();
      for (const e of r.ensemble.tensors) {
        const info = m.model.paramInfo.find((p) => p.name === e.name)!;
        allowed.set(e.name, new Set(e.units.flatMap((u) => unitEntries(info, u))));
        if (e.bias) allowed.set(e.bias, new Set(e.units));
      }
      let changed = 0;
      for (const [name, b] of before) {
        const a = after.get(name)!;
        const ok = allowed.get(name) ?? new Set<number>();
        const x = new Uint32Array(b.buffer), y = new Uint32Array(a.buffer);
        for (let i = 0; i < x.length; i++) {
          if (x[i] === y[i]) continue;
          if (!ok.has(i)) throw new Error(`${name}[${i}] changed but is outside the ensemble`);
          changed++;
        }
      }
      const reported = r.changes.reduce((s, c) => s + c.indices.length, 0);
      if (changed === 0 || changed !== reported) {
        throw new Error(`changed ${changed} entries, the result reports ${reported}`);
      }
    });
  },
);

testBackends("the sparse patch applies and reverts bit for bit", async (be) => {
  await withModel(be, async (m) => {
    const original = await weights(m);
    const r = await kneEdit(m.model, [target(m, "The capital of Spain is", "Lima").row], TINY_HP);
    const edited = await weights(m);
    const path = await Deno.makeTempFile({ suffix: ".safetensors" });
    try {
      await writePatch(path, r.changes);
      const patch = await readPatch(path);
      const w = new Map([...original].map(([k, v]) => [k, v.slice()]));
      applyPatchTo(w, patch, "apply");
      for (const [k, v] of w) {
        if (!sameBits(v, edited.get(k)!)) throw new Error(`apply differs in ${k}`);
      }
      applyPatchTo(w, patch, "revert");
      for (const [k, v] of w) {
        if (!sameBits(v, original.get(k)!)) throw new Error(`revert differs in ${k}`);
      }
    } finally {
      await Deno.remove(path);
    }
  });
});

testBackends("sequential edits keep the earlier edit (anchored by the KL term)", async (be) => {
  await withModel(be, async (m) => {
    const t1 = target(m, "The capital of France is", "Rome");
    const t2 = target(m, "The capital of Japan is", "Cairo");
    await kneEdit(m.model, [t1.row], TINY_HP);
    // In sequential mode earlier edited prompts are the locality anchors of later edits.
    await kneEdit(m.model, [t2.row], { ...TINY_HP, klWeight: 1 }, [t1.row.ids]);
    if (!(await predicts(m, t2))) throw new Error("second edit failed");
    if (!(await predicts(m, t1))) throw new Error("the first edit was lost by the second");
  });
});

testBackends("a diverging edit is rolled back and leaves the model bit-identical", async (be) => {
  await withModel(be, async (m) => {
    const original = await weights(m);
    const r = await kneEdit(m.model, [target(m, "The capital of Italy is", "Paris").row], {
      ...TINY_HP,
      lr: 1e30,
      steps: 5,
    });
    if (!r.rolledBack) throw new Error("a 1e30 learning rate did not diverge");
    if (r.changes.length !== 0) throw new Error("a rolled back edit reports changes");
    const now = await weights(m);
    for (const [k, v] of now) {
      if (!sameBits(v, original.get(k)!)) throw new Error(`${k} not restored`);
    }
  });
});

testBackends("an edit with a locality anchor frees everything it allocated", async (be) => {
  await withModel(be, async (m) => {
    const start = be.allocatedBytes();
    const anchor = target(m, "The capital of Spain is", "Madrid").promptIds;
    await kneEdit(m.model, [target(m, "The capital of Japan is", "Lima").row], {
      ...TINY_HP,
      klWeight: 1,
    }, [anchor]);
    const leaked = be.allocatedBytes() - start;
    if (leaked !== 0) throw new Error(`${leaked} bytes still allocated after the edit`);
  });
});
