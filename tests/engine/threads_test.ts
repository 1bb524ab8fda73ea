// Tests of the WASM backend's worker threads: the thread count option, results identical to one
// thread for every way a matmul is split (batches, row bands, column bands) and for every kernel
// of independent pieces split into ranges, the generic
// parallel() entry, dispose(), and that an undisposed pool never keeps a script from exiting.

import { deepStrictEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { BackendError } from "../../engine/backend.ts";
import { createWasmBackend, type WasmBackend } from "../../engine/wasm/backend.ts";
import { KERNELS, kernelSpec } from "../../engine/kernels/index.ts";
import { namedParams } from "../../engine/kernels/spec.ts";
import { MIN_PARALLEL_MACS, splitMatmul, splitPieces } from "../../engine/wasm/split.ts";
import { SPLIT_SHAPES } from "../helpers/matmul.ts";
import { randomData } from "../helpers/reference.ts";

async function product(
  be: WasmBackend,
  kernel: string,
  [batch, m, n, k, strideA, strideB]: readonly number[],
  seed: number,
): Promise<Float32Array> {
  const a = be.alloc(batch === 0 ? 0 : (batch - 1) * strideA + m * k);
  const b = be.alloc(batch === 0 ? 0 : (batch - 1) * strideB + k * n);
  const c = be.alloc(batch * m * n);
  be.upload(a, randomData(a.length, seed));
  be.upload(b, randomData(b.length, seed + 1));
  be.upload(c, randomData(c.length, seed + 2));
  be.dispatch(kernel, [a, b, c], [batch, m, n, k, strideA, strideB, 1]);
  const out = await be.read(c);
  [a, b, c].forEach((x) => be.free(x));
  return out;
}

Deno.test("the thread count is an option and shows in the description", async () => {
  const one = await createWasmBackend({ threads: 1 });
  const two = await createWasmBackend({ threads: 2 });
  try {
    equal(one.threads, 1);
    equal(two.threads, 2);
    ok(one.description.includes("1 thread"), one.description);
    ok(two.description.includes("2 threads"), two.description);
    // Packing space and the control block are the backend's own, not allocations.
    equal(two.allocatedBytes(), 0);
    await rejects(() => two.startThreads(2), BackendError);
  } finally {
    one.dispose();
    two.dispose();
  }
  const dflt = await createWasmBackend();
  equal(dflt.threads, Math.max(1, navigator.hardwareConcurrency || 1));
  dflt.dispose();
  await rejects(() => createWasmBackend({ threads: 0 }), BackendError);
});

Deno.test("matmuls on 3 threads equal 1 thread bit for bit, however they are split", async () => {
  const one = await createWasmBackend({ threads: 1 });
  const three = await createWasmBackend({ threads: 3 });
  try {
    for (const [i, s] of SPLIT_SHAPES.entries()) {
      const [batch, m, n, k] = s;
      ok(batch * m * n * k >= MIN_PARALLEL_MACS, `shape ${s} is above the threshold`);
      ok(splitMatmul(batch, m, n, 3).length > 1);
      for (const kernel of ["matmul", "matmul_tn", "matmul_nt"]) {
        deepStrictEqual(
          await product(three, kernel, s, 10 * i),
          await product(one, kernel, s, 10 * i),
          `${kernel} ${s}`,
        );
      }
    }
  } finally {
    one.dispose();
    three.dispose();
  }
});

Deno.test("splitMatmul covers C exactly once with aligned bands", () => {
  for (const [batch, m, n, t] of [[1, 1, 1, 2], [3, 7, 9, 2], [8, 5, 5, 4], [1, 1000, 20, 3]]) {
    const seen = new Uint8Array(batch * m * n);
    const ranges = splitMatmul(batch, m, n, t);
    ok(ranges.length <= t);
    for (const [b0, b1, i0, i1, j0, j1] of ranges) {
      ok(i0 % 6 === 0 && j0 % 16 === 0, `aligned ${[b0, b1, i0, i1, j0, j1]}`);
      for (let b = b0; b < b1; b++) {
        for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) seen[(b * m + i) * n + j]++;
      }
    }
    ok(seen.every((x) => x === 1), `split of ${[batch, m, n]} over ${t}`);
  }
});

Deno.test("parallel() runs kernel calls on every thread", async () => {
  const be = await createWasmBackend({ threads: 2 });
  try {
    const buf = be.alloc(2000);
    const p = be.pointer(buf);
    be.parallel([{ fn: "fill", args: [p, 1000, 1] }, { fn: "fill", args: [p + 4000, 1000, 2] }]);
    const got = await be.read(buf);
    ok(got.subarray(0, 1000).every((x) => x === 1) && got.subarray(1000).every((x) => x === 2));
    throws(() => be.parallel([1, 2, 3].map(() => ({ fn: "fill", args: [p, 1, 0] }))), BackendError);
    be.free(buf);
  } finally {
    be.dispose();
  }
});

Deno.test("the pool survives many back-to-back jobs without losing one", async () => {
  const be = await createWasmBackend({ threads: 2 });
  try {
    const buf = be.alloc(2);
    const p = be.pointer(buf);
    for (let i = 0; i < 3000; i++) {
      be.parallel([{ fn: "fill", args: [p, 1, i] }, { fn: "fill", args: [p + 4, 1, -i] }]);
      const [x, y] = await be.read(buf);
      if (x !== i || y !== -i) throw new Error(`job ${i}: got ${x}, ${y}`);
      // Now and then let the worker fall asleep, to exercise the wake-up path too.
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    be.free(buf);
  } finally {
    be.dispose();
  }
});

Deno.test("dispose() stops the workers and settles; kernels are then refused", async () => {
  const be = await createWasmBackend({ threads: 2 });
  await product(be, "matmul", [1, 128, 128, 128, 0, 0], 5);
  await be.dispose();
  await be.dispose();
  equal(be.threads, 1);
  // They used to run on the calling thread alone (tests/engine/dispose_test.ts: every call).
  await rejects(() => product(be, "matmul", [1, 128, 128, 128, 0, 0], 5), /was disposed/);
});

Deno.test("an undisposed thread pool does not keep a script from exiting", async () => {
  const url = new URL("../../engine/wasm/backend.ts", import.meta.url).href;
  const script = `
    import { createWasmBackend } from "${url}";
    const be = await createWasmBackend({ threads: 2 });
    const a = be.alloc(256 * 256);
    be.dispatch("matmul", [a, a, be.alloc(256 * 256)], [1, 256, 256, 256, 0, 0, 0]);
    console.log(be.description);
  `;
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
    // Only a hang trips this (the script takes seconds even on a loaded machine).
    signal: AbortSignal.timeout(300_000),
  });
  const out = await cmd.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  ok(out.success, text);
  ok(text.includes("2 threads"), text);
});

/**
 * Params of every kernel made of independent pieces (KernelSpec.pieces), sized so that ranges
 * start off vector and row boundaries; `ints` names a binding of integer targets in [-1, 23).
 */
const PIECE_CASES: Record<string, { params: number[]; ints?: number }> = {
  fill: { params: [1003, 0.5] },
  add: { params: [1003] },
  mul: { params: [1003] },
  scale: { params: [1003, -1.5] },
  axpy: { params: [1003, 0.25] },
  gelu: { params: [1003] },
  gelu_backward: { params: [1003] },
  gelu_erf: { params: [1003] },
  gelu_erf_backward: { params: [1003] },
  silu: { params: [1003] },
  silu_backward: { params: [1003] },
  softcap: { params: [1003, 0.25, 3] },
  softcap_backward: { params: [1003, 0.25, 3] },
  adam: { params: [1003, 0.01, 0.9, 0.999, 1e-8, 0.1, 0.5, 0.25] },
  bias_add: { params: [21, 13] },
  softmax: { params: [35, 9, 7, 1, 0.5] },
  softmax_backward: { params: [37, 19, 0.7] },
  cross_entropy: { params: [29, 23], ints: 1 },
  cross_entropy_backward: { params: [29, 23], ints: 1 },
  kl_div: { params: [29, 23] },
  kl_div_backward: { params: [29, 23] },
  argmax_rows: { params: [29, 23] },
  layernorm: { params: [31, 17, 1e-5] },
  layernorm_backward: { params: [31, 17] },
  rmsnorm: { params: [31, 17, 1e-5] },
  rmsnorm_backward: { params: [31, 17] },
  transpose_0213: { params: [5, 3, 4, 6] },
  copy_cols: { params: [13, 11, 2, 9, 3, 5] },
};

/** Every output of one call of `name` on seeded random inputs (outputs start random too). */
async function piecesRun(
  be: WasmBackend,
  name: string,
  params: number[],
  ints: number | undefined,
): Promise<Float32Array[]> {
  const spec = kernelSpec(name);
  const sizes = spec.sizes(namedParams(spec, params));
  const bufs = sizes.map((n, i) => {
    const b = be.alloc(n);
    // adam's second moment v (binding 3) is kept non-negative: its square root is taken.
    let data = randomData(n, 7 * i + 1).map((x) => name === "adam" && i === 3 ? Math.abs(x) : x);
    if (i === ints) data = data.map((_, j) => (j * 5) % 24 - 1);
    be.upload(b, data);
    return b;
  });
  be.dispatch(name, bufs, params);
  const outs = await Promise.all(bufs.slice(spec.inputs.length).map((b) => be.read(b)));
  bufs.forEach((b) => be.free(b));
  return outs;
}

Deno.test("kernels of independent pieces on 3 threads equal 1 thread bit for bit", async () => {
  const pieced = [...KERNELS.values()].filter((k) => k.pieces).map((k) => k.name);
  // Every kernel that declares pieces is run here: a new one without a case fails.
  deepStrictEqual(pieced.filter((n) => !(n in PIECE_CASES)), []);
  const one = await createWasmBackend({ threads: 1 });
  const three = await createWasmBackend({ threads: 3, minParallelElements: 1 });
  try {
    for (const name of pieced) {
      const { params, ints } = PIECE_CASES[name];
      const spec = kernelSpec(name);
      const ptrs = spec.sizes(namedParams(spec, params)).map(() => 0);
      const calls = splitPieces(spec, ptrs, () => 4, params, 3, 1);
      ok(calls !== null && calls.length === 3, `${name} is split in three`);
      deepStrictEqual(
        await piecesRun(three, name, params, ints),
        await piecesRun(one, name, params, ints),
        name,
      );
    }
  } finally {
    one.dispose();
    three.dispose();
  }
  await rejects(() => createWasmBackend({ minParallelElements: 0 }), BackendError);
});

Deno.test("splitPieces: ranges cover the pieces once, aligned; small calls stay whole", () => {
  const softmax = kernelSpec("softmax");
  // rows 35 in causal query blocks of 7: every range starts at a block.
  const calls = splitPieces(softmax, [1000, 5000], () => 4, [35, 9, 7, 1, 0.5], 2, 1)!;
  deepStrictEqual(calls.map((c) => c.params[0]), [21, 14]);
  deepStrictEqual(calls.map((c) => c.ptrs), [[1000, 5000], [1000 + 21 * 9 * 4, 5000 + 21 * 9 * 4]]);
  // A norm's gamma (stride 0) is shared by every range.
  const ln = splitPieces(
    kernelSpec("layernorm"),
    [0, 100, 200, 300, 400, 500],
    () => 4,
    [10, 8, 1e-5],
    2,
    1,
  )!;
  deepStrictEqual(ln[1].ptrs, [5 * 8 * 4, 100, 200, 300 + 5 * 8 * 4, 400 + 20, 500 + 20]);
  equal(splitPieces(kernelSpec("gelu"), [0, 0], () => 4, [1000], 2), null);
  equal(splitPieces(kernelSpec("gelu"), [0, 0], () => 4, [1 << 16], 1), null);
  equal(splitPieces(kernelSpec("matmul"), [0, 0, 0], () => 4, [1, 64, 64, 64, 0, 0, 1], 2), null);
});
