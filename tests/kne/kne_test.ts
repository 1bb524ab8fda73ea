// KNE end to end on the tiny oracle GPT-2: the edit makes the target the argmax, changes only
// entries inside the ensemble (everything else bit-identical), sequential edits keep earlier
// ones, the sparse patch reproduces the edited and original weights bit for bit, and a diverging
// edit is rolled back; the KL term's anchors can be read in groups, one group per step, each
// in length buckets that pad least, and the first step's KL term, exactly zero, may be skipped.

import fc from "fast-check";
import { applyPatchTo, readPatch, writePatch } from "../../src/io/patch.ts";
import { contextPrefixes, prefixedRows } from "../../src/edit/context-prefixes.ts";
import { kneEdit } from "../../src/kne/kne.ts";
import { kneMethod } from "../../src/kne/method.ts";
import { attribute } from "../../src/kne/attribution.ts";
import { selectEnsemble } from "../../src/kne/ensemble.ts";
import { klRows } from "../../src/autograd/ops.ts";
import { unitEntries } from "../../src/kne/attribution.ts";
import {
  freeAnchor,
  lengthBuckets,
  localityAnchor,
  localityAnchors,
} from "../../src/kne/locality.ts";
import { maskedUpdate } from "../../src/kne/update.ts";
import { noGrad } from "../../src/autograd/variable.ts";
import { writeEntries } from "../../src/tensor/ops.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import type { Backend } from "../../engine/backend.ts";
import { getBackend, testBackends } from "../helpers/backends.ts";
import { TINY_HP } from "../helpers/kne.ts";
import { ctx, predicts, sameBits, target, weights, withModel } from "../helpers/tiny.ts";

const DYNAMIC_HP = { ...TINY_HP, reattributeEvery: 2 };

/**
 * The dynamic ensemble and the context prefixes are orchestration above the backend (every
 * kernel they run is tested on both backends elsewhere), so their cases run on WASM only: WebGPU
 * on lavapipe takes minutes for each.
 */
function testWasm(name: string, fn: (be: Backend) => Promise<void>): void {
  Deno.test({
    name: `${name} [wasm]`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => fn(await getBackend("wasm")),
  });
}

// reattributeEvery 2: the dynamic ensemble, attributed again every 2 update steps.
for (const [label, hp] of [["", TINY_HP], [" (dynamic ensemble)", DYNAMIC_HP]] as const) {
  (hp.reattributeEvery ? testWasm : testBackends)(
    `KNE makes the target the argmax and changes nothing outside the ensemble${label}`,
    async (be) => {
      await withModel(be, async (m) => {
        const t = target(m, "The capital of France is", "Tokyo");
        if (await predicts(m, t)) throw new Error("the random model already predicts the target");
        const before = await weights(m);
        const r = await kneEdit(m.model, [t.row], hp);
        if (r.rolledBack) throw new Error("edit diverged");
        const rounds = hp.reattributeEvery ? Math.ceil(r.update.steps / hp.reattributeEvery) : 1;
        if (r.rounds !== rounds || (hp.reattributeEvery && rounds < 2)) {
          throw new Error(`${r.rounds} attribution rounds for ${r.update.steps} steps`);
        }
        if (!(await predicts(m, t))) {
          throw new Error(`target is not the argmax after ${r.update.steps} steps`);
        }
        const after = await weights(m);
        const allowed = new Map<string, Set<number>>();
        for (const e of r.ensemble.tensors) {
          const info = m.model.paramInfo.find((p) => p.name === e.name)!;
          allowed.set(e.name, new Set(e.units.flatMap((u) => unitEntries(info, u, e.axis))));
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
}

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

// reattributeEvery 1: the second round attributes the model its first step blew up, so the
// rollback restores the units of two snapshots.
for (const every of [0, 1]) {
  (every ? testWasm : testBackends)(
    `a diverging edit is rolled back and leaves the model bit-identical (reattributeEvery ${every})`,
    async (be) => {
      await withModel(be, async (m) => {
        const original = await weights(m);
        const r = await kneEdit(m.model, [target(m, "The capital of Italy is", "Paris").row], {
          ...TINY_HP,
          lr: 1e30,
          steps: 5,
          reattributeEvery: every,
        });
        if (!r.rolledBack) throw new Error("a 1e30 learning rate did not diverge");
        if (every > 0 && r.rounds < 2) throw new Error(`${r.rounds} rounds`);
        if (r.changes.length !== 0) throw new Error("a rolled back edit reports changes");
        const now = await weights(m);
        for (const [k, v] of now) {
          if (!sameBits(v, original.get(k)!)) throw new Error(`${k} not restored`);
        }
      });
    },
  );
}

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
        const V = m.model.config.vocabSize;
        const ref = await full.refLogits.toArray();
        // Each group is the same forward on fewer prompts, in length buckets: every prompt's
        // reference logits are those of the one padded batch of all three.
        for (const [g, group] of groups.entries()) {
          // Strided: group 0 holds prompts 0 and 2, group 1 prompt 1.
          const buckets = lengthBuckets(prompts.filter((_, i) => i % 2 === g));
          if (buckets.length !== group.length) throw new Error(`group ${g}: bucket count`);
          for (const [b, anchor] of group.entries()) {
            const got = await anchor.refLogits.toArray();
            for (const [r, prompt] of buckets[b].entries()) {
              const i = prompts.indexOf(prompt);
              for (let v = 0; v < V; v++) {
                if (Math.abs(got[r * V + v] - ref[i * V + v]) > 1e-4) {
                  throw new Error(`prompt ${i}: ref logit ${v} differs`);
                }
              }
            }
          }
        }
        const w = await Promise.all(groups.flat().map((a) => a.weights.toArray()));
        if (w.flatMap((x) => [...x]).join() !== [0.5, 0.5, 1].join()) {
          throw new Error(`group weights ${w}`);
        }
      } finally {
        freeAnchor(full);
        for (const a of groups.flat()) freeAnchor(a);
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

testBackends(
  "the first step's KL term is exactly zero, so skipping it (fromReference) leaves the edit bit-identical",
  async (be) => {
    await withModel(be, async (m) => {
      const prompts = ["The capital of Spain is", "The capital of Italy is", "France is in"]
        .map((p) => target(m, p, "Madrid").promptIds);
      const t = target(m, "The capital of Japan is", "Lima");
      // Steps 2 and later read the anchors in both runs; only step 1's forward is skipped.
      const hp = { ...TINY_HP, klWeight: 1, steps: 4, earlyStopLoss: 0 };
      const ensemble = selectEnsemble(await attribute(m.model, [t.row], hp), hp);
      const original = await weights(m);
      // One group of all anchors, and two groups in turn: with fromReference the groups are read
      // from step 2 on, so it equals the full run over the groups turned by one (whose first
      // group, read at step 1, adds exactly nothing).
      for (const perStep of [0, 2]) {
        const runs: Map<string, Float32Array>[] = [];
        const losses: number[][] = [];
        for (const fromReference of [false, true]) {
          const groups = localityAnchors(m.model, prompts, perStep);
          try {
            // The premise: on the unchanged model the KL rows are exactly zero.
            for (const a of groups.flat()) {
              const kl = await tidyAsync(async () =>
                await noGrad(() =>
                  klRows(a.refLogits, m.model.forward(a.ids, undefined, undefined, a.rows))
                ).value.toArray()
              );
              if (!kl.every((x) => x === 0)) throw new Error(`KL at the reference: ${[...kl]}`);
            }
            const read = fromReference ? groups : [...groups.slice(1), groups[0]];
            const r = await maskedUpdate(
              m.model,
              [t.row],
              ensemble,
              hp,
              read,
              undefined,
              fromReference,
            );
            if (r.steps !== 4) throw new Error(`${r.steps} steps`);
            losses.push(r.losses);
          } finally {
            for (const a of groups.flat()) freeAnchor(a);
          }
          runs.push(await weights(m));
          for (const [name, w] of original) {
            const p = m.model.params.get(name)!.value;
            writeEntries(p, Uint32Array.from(w.keys()), w);
          }
        }
        if (losses[0].join() !== losses[1].join()) throw new Error(`losses ${losses.join(" vs ")}`);
        let moved = 0;
        for (const [name, w] of runs[0]) {
          if (!sameBits(w, runs[1].get(name)!)) throw new Error(`${perStep}: ${name} differs`);
          if (!sameBits(w, original.get(name)!)) moved++;
        }
        if (moved === 0) throw new Error("the update changed nothing");
      }
    });
  },
);

Deno.test("lengthBuckets: the least padded rows over every way to cut the sorted lengths", () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 12 }),
    fc.integer({ min: 1, max: 4 }),
    (lengths, k) => {
      const prompts = lengths.map((n) => new Array(n).fill(0));
      const buckets = lengthBuckets(prompts, k);
      const padded = (bs: number[][][]) =>
        bs.reduce((a, b) => a + b.length * Math.max(...b.map((p) => p.length)), 0);
      // Every prompt once, at most k non-empty buckets.
      if (buckets.flat().length !== prompts.length) return false;
      if (buckets.length > k || buckets.some((b) => b.length === 0)) return false;
      if (!prompts.every((p) => buckets.flat().includes(p))) return false;
      // Brute force: every choice of up to k - 1 cut points in the sorted order.
      const sorted = [...lengths].sort((a, b) => a - b);
      let best = Infinity;
      const search = (from: number, left: number, acc: number) => {
        if (from === sorted.length) return void (best = Math.min(best, acc));
        if (left === 0) return;
        for (let to = from + 1; to <= sorted.length; to++) {
          search(to, left - 1, acc + (to - from) * sorted[to - 1]);
        }
      };
      search(0, k, 0);
      return padded(buckets) === best;
    },
  ));
});

testWasm("contextTemplates: the edit is trained behind each sampled prefix", async (be) => {
  await withModel(be, async (m) => {
    const t = target(m, "The capital of Japan is", "Lima");
    const hp = { ...TINY_HP, contextTemplates: 2, templateTokens: 3 };
    const prefixes = await contextPrefixes(m.model, m.tokenizer!, 2, 3, 0);
    const leading = m.tokenizer!.leadingIds.length;
    const rows = prefixedRows(t.row, prefixes, m.model.config.contextLength, leading);
    if (rows.length !== 3) throw new Error(`${rows.length} rows for 2 prefixes`);
    // The first step's loss is the unedited model's mean target cross-entropy over all 3 rows.
    let sum = 0, count = 0;
    for (const row of rows) {
      const V = m.model.config.vocabSize;
      const logits = await tidyAsync(() =>
        noGrad(() => m.model.forward(Tensor.fromArray(be, row.ids, [1, row.ids.length])))
          .value.toArray()
      );
      row.targets.forEach((y, i) => {
        if (y < 0) return;
        const z = logits.subarray(i * V, (i + 1) * V);
        const max = Math.max(...z);
        const lse = max + Math.log(z.reduce((a, v) => a + Math.exp(v - max), 0));
        sum += lse - z[y];
        count++;
      });
    }
    const first = await kneMethod.apply(ctx(m), [t], { ...hp, steps: 1 });
    const loss = (first.artifacts.ensemble as { losses: number[] }).losses[0];
    if (Math.abs(loss - sum / count) > 1e-4) throw new Error(`loss ${loss}, want ${sum / count}`);
    for (const c of first.changes) {
      writeEntries(m.model.params.get(c.name)!.value, c.indices, c.before);
    }
    // The whole edit: the target is the argmax after the bare prompt and behind each prefix.
    const r = await kneMethod.apply(ctx(m), [t], hp);
    if (r.rolledBack) throw new Error("edit diverged");
    for (const row of rows) {
      const pre = row.ids.length - t.row.ids.length;
      const behind = { ...t, promptIds: [...row.ids.slice(0, pre), ...t.promptIds], row };
      if (!(await predicts(m, behind))) throw new Error(`not the argmax behind ${pre} tokens`);
    }
  });
});
