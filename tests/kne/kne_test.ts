// KNE end to end on the tiny oracle GPT-2: the edit makes the target the argmax, changes only
// entries inside the ensemble (everything else bit-identical), sequential edits keep earlier
// ones, the sparse patch reproduces the edited and original weights bit for bit, and a diverging
// edit is rolled back; the KL term's anchors can be read in groups, one group per step.

import { applyPatchTo, readPatch, writePatch } from "../../src/io/patch.ts";
import { kneEdit } from "../../src/kne/kne.ts";
import { unitEntries } from "../../src/kne/attribution.ts";
import { freeAnchor, localityAnchor, localityAnchors } from "../../src/kne/update.ts";
import { writeEntries } from "../../src/tensor/ops.ts";
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

testBackends(
  "klAnchorsPerStep: groups of anchors in turn; one group of all is the whole-term edit",
  async (be) => {
    await withModel(be, async (m) => {
      const prompts = ["The capital of Spain is", "The capital of Italy is", "France is in"]
        .map((p) => target(m, p, "Madrid").promptIds);
      const full = localityAnchor(m.model, prompts);
      const groups = localityAnchors(m.model, prompts, 2);
      try {
        if (groups.length !== 2) throw new Error(`${groups.length} groups of 2 for 3 anchors`);
        const ref = await full.refLogits.toArray();
        const parts = [
          ...await groups[0].refLogits.toArray(),
          ...await groups[1].refLogits.toArray(),
        ];
        // Each group is the same forward on fewer prompts: the same reference logits.
        for (let i = 0; i < ref.length; i++) {
          if (Math.abs(ref[i] - parts[i]) > 1e-4) throw new Error(`ref logit ${i} differs`);
        }
        const w = [...await groups[0].weights.toArray(), ...await groups[1].weights.toArray()];
        if (w.join() !== [0.5, 0.5, 1].join()) throw new Error(`group weights ${w}`);
      } finally {
        freeAnchor(full);
        for (const g of groups) freeAnchor(g);
      }
      // Groups as large as the pool are the whole term: the same edit, bit for bit.
      const t = target(m, "The capital of Japan is", "Lima");
      const hp = { ...TINY_HP, klWeight: 1 };
      const a = await kneEdit(m.model, [t.row], { ...hp, klAnchorsPerStep: 0 }, prompts);
      const afterAll = await weights(m);
      for (const c of a.changes) {
        const p = m.model.params.get(c.name)!.value;
        writeEntries(p, c.indices, c.before);
      }
      const b = await kneEdit(m.model, [t.row], { ...hp, klAnchorsPerStep: 3 }, prompts);
      if (a.update.losses.join() !== b.update.losses.join()) {
        throw new Error(`losses ${a.update.losses} vs ${b.update.losses}`);
      }
      for (const [k, v] of await weights(m)) {
        if (!sameBits(v, afterAll.get(k)!)) throw new Error(`${k} differs`);
      }
      for (const c of b.changes) {
        writeEntries(m.model.params.get(c.name)!.value, c.indices, c.before);
      }
      // One anchor per step still edits.
      const one = await kneEdit(m.model, [t.row], { ...hp, klAnchorsPerStep: 1 }, prompts);
      if (one.rolledBack || !(await predicts(m, t))) throw new Error("one anchor per step failed");
    });
  },
);
