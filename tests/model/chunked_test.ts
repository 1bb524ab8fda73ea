// Operands larger than the per-binding limit (src/tensor/chunk.ts): the tiny oracle models on
// backends whose limit is lowered to 4 KiB (so the embeddings, the LM head, most weights and the
// logits must split) still match the torch oracle to 1e-4 in logits, loss and every gradient, on
// WASM (createWasmBackend's maxBindingBytes, which then enforces the limit and 64-element slice
// alignment as WebGPU does) and on WebGPU. Each tensor op is also checked, on random shapes and
// random limits down to 64 elements (misaligned chunks included), against the same op on a
// backend without a lowered limit; KV-cached generation works under a lowered limit too.

import fc from "fast-check";
import { type Backend, BackendError, isSlice } from "../../engine/backend.ts";
import { createWasmBackend } from "../../engine/wasm/backend.ts";
import { createWebGpuBackend } from "../../engine/webgpu/backend.ts";
import { backward } from "../../src/autograd/variable.ts";
import { openSafetensors } from "../../src/io/safetensors.ts";
import { disposeModel } from "../../src/model/build.ts";
import { generate } from "../../src/model/generate.ts";
import { lmLoss } from "../../src/model/loss.ts";
import { ropeInvFreq } from "../../src/model/rope.ts";
import * as T from "../../src/tensor/ops.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { disposedAfterAll, getBackend, hasWebGpu } from "../helpers/backends.ts";
import { loadFixture } from "../helpers/fixture_model.ts";
import { assertClose, randomData, seedArb } from "../helpers/reference.ts";

const kinds = ["wasm", "webgpu"] as const;
type Kind = typeof kinds[number];

const limited = new Map<string, Promise<Backend>>();

/** One backend per kind and lowered limit (bytes) per test file. */
function limitedBackend(kind: Kind, bytes: number): Promise<Backend> {
  const key = `${kind}:${bytes}`;
  let b = limited.get(key);
  if (!b) {
    b = (kind === "wasm"
      ? createWasmBackend({ threads: 1, maxBindingBytes: bytes })
      : createWebGpuBackend({ maxBindingBytes: bytes }).then((g) => {
        if (!g) {
          throw new Error("no WebGPU adapter");
        }
        return g;
      })).then(disposedAfterAll);
    limited.set(key, b);
  }
  return b;
}

function testKinds(name: string, fn: (kind: Kind) => Promise<void>): void {
  for (const kind of kinds) {
    Deno.test({
      name: `${name} [${kind}]`,
      ignore: kind === "webgpu" && !hasWebGpu,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: () => fn(kind),
    });
  }
}

/** Counts dispatches that bind a slice (proof that something was split). */
function countSlices(be: Backend): { slices: number; restore(): void } {
  const inner = be.dispatch;
  const c = {
    slices: 0,
    restore: () => {
      be.dispatch = inner;
    },
  };
  be.dispatch = (name, buffers, params) => {
    if (buffers.some(isSlice)) c.slices++;
    inner.call(be, name, buffers, params);
  };
  return c;
}

// ---- the oracle models under a 4 KiB binding limit ---------------------------------------------

for (const name of ["tiny-gpt2", "tiny-llama"]) {
  testKinds(`${name} under a 4 KiB binding limit matches the torch oracle`, async (kind) => {
    const be = await limitedBackend(kind, 4096);
    const dir = new URL(`../fixtures/${name}`, import.meta.url).pathname;
    const expected = await openSafetensors(`${dir}/expected.safetensors`);
    const model = await loadFixture(name, be);
    const counter = countSlices(be);
    try {
      const embed = [...model.params.values()].find((p) => p.value.shape[0] === 96)!;
      if (embed.value.size <= be.maxBindingElements) throw new Error("the embedding fits");
      const ids = Array.from(await expected.read("input_ids"));
      const targets = ids.map((_, i) => (i + 1 < ids.length ? ids[i + 1] : -1));
      await tidyAsync(async () => {
        const r = lmLoss(model, ids, targets, 1);
        if (r.logits.value.size <= be.maxBindingElements) throw new Error("the logits fit");
        backward(r.loss);
        assertClose(await r.logits.value.toArray(), await expected.read("logits"), 1e-4, "logits");
        assertClose(await r.loss.value.toArray(), await expected.read("loss"), 1e-4, "loss");
      });
      let checked = 0;
      for (const [pname, p] of model.params) {
        const key = [`grad.${pname}`, `grad.${pname.replace(/^transformer\./, "")}`].find((k) =>
          expected.tensors.has(k)
        );
        if (!key || !p.grad) throw new Error(`no gradient for ${pname}`);
        assertClose(await p.grad.toArray(), await expected.read(key), 1e-4, `grad ${pname}`);
        checked++;
      }
      if (checked !== model.params.size) throw new Error("not every parameter was checked");
      if (counter.slices === 0) throw new Error("no dispatch bound a slice");
    } finally {
      counter.restore();
      expected.close();
      disposeModel(model);
    }
  });
}

// ---- generation with the KV cache under a lowered limit ----------------------------------------

testKinds("KV-cached generation under a 1 KiB binding limit matches the unlimited backend", async (
  kind,
) => {
  const be = await limitedBackend(kind, 1024);
  const ref = await getBackend(kind);
  for (const name of ["tiny-gpt2", "tiny-llama"]) {
    const model = await loadFixture(name, be);
    const refModel = await loadFixture(name, ref);
    try {
      const prompt = [5, 60, 7, 33, 90, 2, 11];
      const n = kind === "webgpu" ? 4 : 10;
      const a = await generate(model, prompt, { maxNewTokens: n, returnLogits: true });
      const b = await generate(refModel, prompt, { maxNewTokens: n, returnLogits: true });
      if (a.tokens.join() !== b.tokens.join()) {
        throw new Error(`${name}: tokens ${a.tokens} differ from ${b.tokens}`);
      }
      a.logits!.forEach((l, i) => assertClose(l, b.logits![i], 1e-4, `${name} step ${i}`));
    } finally {
      disposeModel(model);
      disposeModel(refModel);
    }
  }
});

// ---- each op, chunked vs whole -----------------------------------------------------------------

/** Small deterministic integer source for shapes. */
function dims(seed: number) {
  let s = (seed ^ 0x5bd1e995) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
  return {
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    bool: () => next() < 0.5,
  };
}

type OpCase = (be: Backend, seed: number, limit: number) => Promise<Float32Array[]>;

const read = (ts: Tensor[]) => Promise.all(ts.map((t) => t.toArray()));

function rand(be: Backend, shape: number[], seed: number, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = randomData(n, seed);
  if (scale !== 1) { for (let i = 0; i < n; i++) data[i] *= scale; }
  return Tensor.fromArray(be, data, shape);
}

/** Every case keeps the unsplittable units (one row, one slab) within `limit` elements. */
const cases: Record<string, OpCase> = {
  matmul: (be, seed, limit) =>
    tidyAsync(() => {
      const r = dims(seed);
      const w = Math.min(40, limit);
      const [m, n, k] = [r.int(1, w), r.int(1, w), r.int(1, w)];
      const batch = r.int(1, 3);
      const variant = r.int(0, 2);
      const transA = variant === 1, transB = variant === 2;
      const bcastA = batch > 1 && r.bool(), bcastB = batch > 1 && !bcastA && r.bool();
      const aShape = transA ? [k, m] : [m, k], bShape = transB ? [n, k] : [k, n];
      const a = rand(be, bcastA ? aShape : [batch, ...aShape], seed + 1);
      const b = rand(be, bcastB ? bShape : [batch, ...bShape], seed + 2);
      const acc = r.bool();
      const c = rand(be, [batch, m, n], seed + 3);
      T.matmul(a, b, { transA, transB }, c, acc);
      return read([c]);
    }),
  matmulPrefix: (be, seed, limit) =>
    tidyAsync(() => {
      const r = dims(seed);
      const cols = r.int(1, Math.min(16, limit)), cap = r.int(1, Math.min(20, limit));
      const len = r.int(1, cap), batch = r.int(1, 3), m = r.int(1, 8);
      const cache = rand(be, [batch, cap, cols], seed + 1);
      const q = rand(be, [batch, m, cols], seed + 2);
      const p = rand(be, [batch, m, len], seed + 3);
      return read([T.matmulPrefix(q, cache, len, true), T.matmulPrefix(p, cache, len, false)]);
    }),
  embedding: (be, seed, limit) =>
    tidyAsync(() => {
      const r = dims(seed);
      const v = r.int(1, 200), d = r.int(1, Math.min(24, limit)), n = r.int(1, 40);
      const ids = Array.from({ length: n }, () => {
        const x = r.int(-2, v + 1);
        return x === -2 ? NaN : x;
      });
      const table = rand(be, [v, d], seed + 1);
      const idT = Tensor.fromArray(be, ids, [n]);
      const out = T.embedding(table, idT);
      const dt = rand(be, [v, d], seed + 2);
      T.embeddingBackward(idT, rand(be, [n, d], seed + 3), dt);
      return read([out, dt]);
    }),
  units: (be, seed, limit) =>
    tidyAsync(() => {
      // The masked update's gather and scatter of rows / columns, into f32 and f16 matrices
      // (even widths for f16, whose staged slices must start on whole words).
      const r = dims(seed);
      const rows = r.int(1, 40), cols = 2 * r.int(1, Math.min(20, Math.floor(limit / 2)));
      const pick = (n: number) => {
        const all = Array.from({ length: n }, (_, i) => i).filter(() => r.bool());
        return all.length ? all : [n - 1];
      };
      const out: Tensor[] = [];
      for (const axis of [0, 1] as const) {
        const ids = pick(axis === 0 ? rows : cols);
        const idT = Tensor.fromArray(be, ids, [ids.length]);
        for (const dtype of ["f32", "f16"] as const) {
          const m = Tensor.fromArray(be, randomData(rows * cols, seed + 1), [rows, cols], dtype);
          const got = T.gatherUnits(m, idT, axis);
          T.scatterUnits(m, T.scale(got, -2), idT, axis);
          out.push(got, T.cast(m, "f32"));
        }
      }
      return read(out);
    }),
  writeEntries: (be, seed, limit) =>
    tidyAsync(() => {
      // An edit's changes written back: random entries of f32 and f16 matrices (even widths for
      // f16, as above), chunks of rows each with its own batch of entries.
      const r = dims(seed);
      const rows = r.int(1, 40), cols = 2 * r.int(1, Math.min(20, Math.floor(limit / 2)));
      const idx = Uint32Array.from({ length: rows * cols }, (_, i) => i).filter(() => r.bool());
      const values = randomData(idx.length, seed + 2);
      return read((["f32", "f16"] as const).map((dtype) => {
        const m = Tensor.fromArray(be, randomData(rows * cols, seed + 1), [rows, cols], dtype);
        T.writeEntries(m, idx, values);
        return T.cast(m, "f32");
      }));
    }),
  transpose0213: (be, seed, limit) =>
    tidyAsync(() => {
      const r = dims(seed);
      const a = r.int(1, 3), b = r.int(1, 12), c = r.int(1, 8);
      const d = r.int(1, Math.max(1, Math.min(8, Math.floor(limit / c))));
      return read([T.transpose0213(rand(be, [a, b, c, d], seed))]);
    }),
  rope: (be, seed, limit) =>
    tidyAsync(() => {
      const r = dims(seed);
      const h = r.int(1, 4);
      const dh = 2 * r.int(1, Math.max(1, Math.min(8, Math.floor(limit / (2 * h)))));
      const x = rand(be, [r.int(1, 2), r.int(1, 20), h, dh], seed);
      const invFreq = Tensor.fromArray(be, ropeInvFreq(dh, 10000, null), [dh / 2]);
      return read([T.rope(x, r.int(0, 10), invFreq, r.bool() ? 1 : -1, r.bool())]);
    }),
  repeatKv: (be, seed, limit) =>
    tidyAsync(() => {
      const r = dims(seed);
      const g = r.int(1, 3), t = r.int(1, 6);
      const d = r.int(1, Math.max(1, Math.min(8, Math.floor(limit / (g * t)))));
      const x = rand(be, [r.int(1, 2), r.int(1, 3), t, d], seed);
      const y = T.repeatKv(x, g);
      return read([y, T.repeatKvBackward(rand(be, [...y.shape], seed + 1), g)]);
    }),
  softmax: (be, seed, limit) =>
    tidyAsync(() => {
      const r = dims(seed);
      const causal = r.bool();
      const cols = r.int(1, Math.min(30, limit));
      const qlen = causal ? r.int(1, Math.max(1, Math.min(cols, Math.floor(limit / cols)))) : cols;
      const rows = qlen * r.int(1, 6);
      const x = rand(be, [rows, cols], seed, 3);
      const y = T.softmax(x, { causal, qlen, scale: 0.7 });
      return read([y, T.softmaxBackward(y, rand(be, [rows, cols], seed + 1), 0.7)]);
    }),
  crossEntropy: (be, seed, limit) =>
    tidyAsync(() => {
      const r = dims(seed);
      const rows = r.int(1, 30), v = r.int(1, Math.min(100, limit));
      const logits = rand(be, [rows, v], seed, 4);
      const tg = Tensor.fromArray(be, Array.from({ length: rows }, () => r.int(-1, v - 1)), [rows]);
      const { loss, lse } = T.crossEntropy(logits, tg);
      const d = T.crossEntropyBackward(logits, tg, lse, rand(be, [rows], seed + 1));
      const q = rand(be, [rows, v], seed + 2, 4);
      const kl = T.klDiv(logits, q);
      return read([loss, lse, d, kl, T.klDivBackward(logits, q, kl), T.argmaxRows(q)]);
    }),
  norms: (be, seed, limit) =>
    tidyAsync(() => {
      const r = dims(seed);
      const rows = r.int(1, 40), d = r.int(1, Math.min(48, limit));
      const x = rand(be, [rows, d], seed, 2), dy = rand(be, [rows, d], seed + 1);
      const g = rand(be, [d], seed + 2), b = rand(be, [d], seed + 3);
      const ln = T.layernorm(x, g, b, 1e-5);
      const dg = rand(be, [d], seed + 4), db = rand(be, [d], seed + 5);
      T.layernormParamGrad(x, dy, ln.mean!, ln.rstd, dg, db, r.bool());
      const rms = T.rmsnorm(x, g, 1e-5);
      const dg2 = rand(be, [d], seed + 6);
      T.rmsnormParamGrad(x, dy, rms.rstd, dg2, r.bool());
      return read([
        ln.out,
        ln.mean!,
        ln.rstd,
        T.layernormBackward(x, g, dy, ln.mean!, ln.rstd),
        dg,
        db,
        rms.out,
        rms.rstd,
        T.rmsnormBackward(x, g, dy, rms.rstd),
        dg2,
      ]);
    }),
  rowsAndElements: (be, seed, limit) =>
    tidyAsync(() => {
      const r = dims(seed);
      const rows = r.int(1, 40), cols = r.int(1, Math.min(40, limit));
      const x = rand(be, [rows, cols], seed), y = rand(be, [rows, cols], seed + 1);
      const bias = rand(be, [cols], seed + 2);
      const acc = rand(be, [cols], seed + 3);
      T.sumRows(x, acc, true);
      const off = r.int(0, cols - 1), width = r.int(1, cols - off);
      const into = rand(be, [rows, cols + 3], seed + 4);
      T.copyCols(x, off, width, into, r.int(0, 3 + cols - width));
      const z = y.clone();
      T.axpy(z, x, 0.5);
      const [p, g, m, v] = [0, 1, 2, 3].map((i) => rand(be, [rows, cols], seed + 10 + i));
      const v2 = T.mul(v, v); // Adam's second moment is >= 0
      T.adam(p, g, m, v2, {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        weightDecay: 0.1,
        step: 3,
      });
      const nan = Tensor.fromArray(
        be,
        Array.from({ length: rows * cols }, (_, i) => (i % 7 === 3 ? NaN : i)),
        [rows * cols],
      );
      return read([
        T.add(x, y),
        T.mul(x, y),
        T.scale(x, 3),
        T.gelu(x),
        T.geluBackward(x, y),
        T.siluBackward(x, y),
        T.biasAdd(x, bias),
        T.sumRows(x),
        acc,
        into,
        z,
        p,
        m,
        v2,
        T.sum(T.mul(x, x)), // no cancellation: chunked partial sums add up in another order
        T.countNonfinite(nan),
        T.zeros(be, [rows, cols]),
      ]);
    }),
};

const LIMITS = [64, 100, 256, 1000];

for (const [name, run] of Object.entries(cases)) {
  testKinds(`${name} split under small binding limits equals the whole op`, async (kind) => {
    const gpu = kind === "webgpu";
    const ref = await getBackend(kind);
    await fc.assert(
      fc.asyncProperty(
        seedArb,
        fc.constantFrom(...(gpu ? [100] : LIMITS)),
        async (seed, limit) => {
          const be = await limitedBackend(kind, limit * 4);
          const want = await run(ref, seed, limit);
          const got = await run(be, seed, limit);
          got.forEach((g, i) => assertClose(g, want[i], 1e-5, `${name} output ${i}`));
        },
      ),
      { numRuns: gpu ? 10 : 30 },
    );
  });
}

testKinds("an operand that cannot be split fails naming its size and the limit", async (kind) => {
  const be = await limitedBackend(kind, 256);
  const bias = T.zeros(be, [100]);
  const wide = T.zeros(be, [2, 100]);
  try {
    for (const f of [() => T.biasAdd(wide, bias), () => T.softmax(wide)]) {
      try {
        f().free();
        throw new Error("no error");
      } catch (e) {
        if (
          !(e instanceof BackendError) || !/100 elements \(400 bytes\).*64 elements/.test(e.message)
        ) {
          throw e;
        }
      }
    }
  } finally {
    for (const t of [bias, wide]) t.free();
  }
});
