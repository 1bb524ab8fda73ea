// MEMIT: the batched closed form against a dense float64 solve of R Kᵀ (w C + K Kᵀ)⁻¹, ROME's
// closed form as its one-request, covWeight 0 case (pure, and end to end on the tiny oracle
// GPT-2 given the same k*, v* and covariance), and edits that make the targets the argmax,
// one request or two at once over two layers; its key statistics' pass reported as progress.

import fc from "fast-check";
import { cholesky, choleskySolve, spdSolve } from "../../src/methods/linalg.ts";
import { MEMIT_DEFAULTS, type MemitHparams } from "../../src/methods/memit/hparams.ts";
import { memitLayers, memitMethod, memitUpdate } from "../../src/methods/memit/method.ts";
import { ROME_DEFAULTS } from "../../src/methods/rome/hparams.ts";
import { romeMethod, romeUpdate } from "../../src/methods/rome/method.ts";
import { testBackends } from "../helpers/backends.ts";
import {
  assert,
  changedTensors,
  ctx,
  predicts,
  target,
  weights,
  withModel,
} from "../helpers/tiny.ts";

/** A random symmetric positive definite n x n matrix B Bᵀ + 0.1 I. */
function spd(n: number, xs: number[]): Float64Array {
  const b = Float64Array.from({ length: n * n }, (_, i) => xs[i % xs.length] * Math.cos(i + 1));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
      a[i * n + j] = s + (i === j ? 0.1 : 0);
    }
  }
  return a;
}

const vec = (len: number) =>
  fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: len, maxLength: len });

Deno.test("Cholesky solves symmetric positive definite systems", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 9 }), vec(81), vec(9), (n, xs, bs) => {
      const a = spd(n, xs.map((x) => x + 0.01));
      const b = bs.slice(0, n);
      const x = spdSolve(a, n, b);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += a[i * n + j] * x[j];
        if (Math.abs(s - b[i]) > 1e-8 * (1 + Math.abs(b[i]))) return false;
      }
      return true;
    }),
    { numRuns: 50 },
  );
});

Deno.test("MEMIT's closed form equals R Kᵀ (w C + K Kᵀ)⁻¹ solved densely", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 4 }),
      fc.double({ min: 0.01, max: 10, noNaN: true }),
      vec(49),
      vec(21),
      vec(12),
      (n, m, d, w, cs, ks, rs) => {
        const c = spd(n, cs.map((x) => x + 0.01));
        const keys = Array.from(
          { length: m },
          (_, i) =>
            Float64Array.from({ length: n }, (_, j) => ks[(i * n + j) % ks.length] + 0.1 * i),
        );
        const res = Array.from(
          { length: m },
          (_, i) => Float64Array.from({ length: d }, (_, j) => rs[(i * d + j) % rs.length]),
        );
        const got = memitUpdate(cholesky(c, n), n, keys, res, w);
        // Dense: A = w C + K Kᵀ (n x n), ΔW = R Kᵀ A⁻¹, row o: solve A x = (R Kᵀ)[o, :]ᵀ.
        const a = new Float64Array(n * n);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            a[i * n + j] = w * c[i * n + j] + keys.reduce((s, k) => s + k[i] * k[j], 0);
          }
        }
        let scale = 0, err = 0;
        for (let o = 0; o < d; o++) {
          const rk = Float64Array.from(
            { length: n },
            (_, j) => keys.reduce((s, k, i) => s + res[i][o] * k[j], 0),
          );
          const x = spdSolve(a, n, rk);
          for (let j = 0; j < n; j++) {
            scale = Math.max(scale, Math.abs(x[j]));
            err = Math.max(err, Math.abs(x[j] - got[o * n + j]));
          }
        }
        return err <= 1e-7 * Math.max(1, scale);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("with one request and covWeight 0, MEMIT's closed form is ROME's", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 5 }),
      vec(64),
      vec(8),
      vec(5),
      (n, d, cs, ks, rs) => {
        const c = spd(n, cs.map((x) => x + 0.01));
        const k = Float64Array.from({ length: n }, (_, i) => ks[i] + 0.05);
        const r = Float64Array.from({ length: d }, (_, i) => rs[i]);
        const l = cholesky(c, n);
        const rome = romeUpdate(l, n, k, r);
        const memit = memitUpdate(l, n, [k], [r], 0);
        // ROME inserts exactly: ΔW k = r.
        for (let o = 0; o < d; o++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += rome[o * n + i] * k[i];
          if (Math.abs(s - r[o]) > 1e-8 * (1 + Math.abs(r[o]))) return false;
        }
        const scale = Math.max(1e-12, ...rome.map(Math.abs));
        return rome.every((x, i) => Math.abs(x - memit[i]) <= 1e-9 * scale);
      },
    ),
    { numRuns: 60 },
  );
  // And the Cholesky solve they share is exact on the identity.
  const x = choleskySolve(cholesky(Float64Array.of(4, 0, 0, 9), 2), 2, [8, 9]);
  assert(x[0] === 2 && x[1] === 1, "choleskySolve");
});

Deno.test("MEMIT's layers: auto is the ROME layer and the ones before it; lists are checked", () => {
  assert(memitLayers("auto", 2).join() === "0", "2 layers");
  assert(memitLayers("auto", 4).join() === "0,1", "4 layers");
  assert(memitLayers("auto", 12).join() === "3,4,5", "12 layers");
  assert(memitLayers(" 2, 1 ,2", 4).join() === "1,2", "list");
  for (const bad of ["", "1,", "4", "-1", "a", "1.5"]) {
    let threw = false;
    try {
      memitLayers(bad, 4);
    } catch {
      threw = true;
    }
    assert(threw, `"${bad}" accepted`);
  }
});

testBackends(
  "MEMIT with one request and one layer (covWeight 0) equals ROME given the same k*, v*, C",
  async (be) => {
    await withModel(be, async (m) => {
      const t = target(m, "The capital of France", "Tokyo", "France");
      const name = "transformer.h.0.mlp.c_proj.weight";
      const before = await weights(m);
      const shared = { ...ROME_DEFAULTS, contextTemplates: 2, vSteps: 20 };
      await romeMethod.apply(ctx(m), [t], { ...shared, layer: 0, insertKey: "mean" });
      const rome = (await weights(m)).get(name)!;
      be.upload(m.model.params.get(name)!.value.buffer, before.get(name)!);
      const { layer: _, insertKey: __, ...value } = shared;
      const r = await memitMethod.apply(ctx(m), [t], {
        ...MEMIT_DEFAULTS,
        ...value,
        layers: "0",
        covWeight: 0,
      });
      assert(!r.rolledBack, "rolled back");
      const memit = (await weights(m)).get(name)!;
      const b = before.get(name)!;
      let scale = 0, err = 0;
      for (let i = 0; i < b.length; i++) {
        scale = Math.max(scale, Math.abs(rome[i] - b[i]));
        err = Math.max(err, Math.abs((memit[i] - b[i]) - (rome[i] - b[i])));
      }
      assert(scale > 0, "ROME changed nothing");
      assert(err <= 1e-4 * scale, `MEMIT differs from ROME by ${err / scale} (relative)`);
    });
  },
);

const HP: MemitHparams = { ...MEMIT_DEFAULTS, layers: "0,1", covWeight: 0.1 };

testBackends("MEMIT makes two targets the argmax at once, over two layers", async (be) => {
  await withModel(be, async (m) => {
    const ts = [
      target(m, "The capital of France", "Tokyo", "France", 0),
      target(m, "The capital of Spain", "Lima", "Spain", 1),
    ];
    for (const t of ts) assert(!(await predicts(m, t)), "the fixture already predicts a target");
    const before = await weights(m);
    const r = await memitMethod.apply(ctx(m), ts, HP);
    assert(!r.rolledBack, "rolled back");
    for (const t of ts) {
      assert(await predicts(m, t), `"${t.request.prompt}" does not predict its target`);
    }
    const changed = changedTensors(before, await weights(m)).sort();
    assert(
      changed.join() ===
        "transformer.h.0.mlp.c_proj.weight,transformer.h.1.mlp.c_proj.weight",
      `changed ${changed.join(", ")}`,
    );
  });
});

testBackends(
  "MEMIT reports its key statistics' pass over both layers as one progress",
  async (be) => {
    await withModel(be, async (m) => {
      const t = target(m, "The capital of France", "Tokyo", "France");
      const steps: [number, number][] = [];
      // The requests' own prompts: never in the disk cache, so the edit computes them.
      await memitMethod.apply(
        {
          ...ctx(m),
          onProgress: (p) => p.phase === "memit covariance" && steps.push([p.step, p.of]),
        },
        [t],
        { ...HP, covTexts: "prompts" },
      );
      assert(steps.length > 0, "no progress for the key statistics");
      assert(
        steps.every(([step, of], i) => step === i + 1 && of === steps.length),
        `steps ${JSON.stringify(steps)}`,
      );
    });
  },
);
