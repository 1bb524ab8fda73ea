// Timing of dispatches through the Backend interface (profileDispatches / takeDispatchTimes), on
// WASM (wall time of each synchronous dispatch) and WebGPU (GPU timestamps): exactly the
// dispatches made while timing is on come back, in order, with their kernel names and params
// and finite non-negative times (no comparison of durations: they depend on the load); on WebGPU
// runs beyond one query set (1024 dispatches) and across the 512-dispatch submits are all timed;
// results are bit-identical with timing on and off. Without timestamp-query, turning it on
// throws a BackendError. The WebGPU case is ignored without an adapter.

import { deepStrictEqual, ok, throws as assertThrows } from "node:assert/strict";
import { type Backend, BackendError } from "../../engine/backend.ts";
import { createWasmBackend } from "../../engine/wasm/backend.ts";
import { createWebGpuBackend } from "../../engine/webgpu/backend.ts";
import { hasWebGpu } from "../helpers/backends.ts";
import { randomData } from "../helpers/reference.ts";

/** C = A B for random 256 x 256 matrices, on `be` (its result read back). */
async function product(be: Backend): Promise<Float32Array> {
  const n = 256;
  const [a, b, c] = [be.alloc(n * n), be.alloc(n * n), be.alloc(n * n)];
  be.upload(a, randomData(n * n, 1));
  be.upload(b, randomData(n * n, 2));
  be.dispatch("fill", [c], [8, 5]);
  be.dispatch("matmul", [a, b, c], [1, n, n, n, 0, 0, 0]);
  const out = await be.read(c);
  [a, b, c].forEach((x) => be.free(x));
  return out;
}

/** The dispatches made while profiling come back timed, in order, once; results unchanged. */
async function checkProfiling(be: Backend): Promise<void> {
  const plain = await product(be);
  be.profileDispatches(true);
  const timed = await product(be);
  const small = be.alloc(8);
  for (let i = 0; i < 1100; i++) be.dispatch("fill", [small], [8, i]);
  be.profileDispatches(false);
  be.dispatch("fill", [small], [8, -1]);
  const times = await be.takeDispatchTimes();
  deepStrictEqual(timed, plain, "timing changed the product");
  deepStrictEqual((await be.read(small))[0], -1);
  be.free(small);

  ok(times.length === 2 + 1100, `${times.length} dispatches timed, expected 1102`);
  deepStrictEqual(times.slice(0, 2).map((t) => t.name), ["fill", "matmul"]);
  deepStrictEqual(times[1].params, [1, 256, 256, 256, 0, 0, 0]);
  times.slice(2).forEach((t, i) => deepStrictEqual([t.name, t.params[1]], ["fill", i]));
  for (const t of times) ok(Number.isFinite(t.ms) && t.ms >= 0, `${t.name}: ${t.ms} ms`);
  deepStrictEqual(await be.takeDispatchTimes(), [], "times are handed out once");
}

Deno.test("WASM times exactly the dispatches made while profiling, in order", async () => {
  const be = await createWasmBackend();
  try {
    await checkProfiling(be);
  } finally {
    be.dispose();
  }
});

Deno.test({
  name: "WebGPU times exactly the dispatches made while profiling, in order [webgpu]",
  ignore: !hasWebGpu,
  fn: async () => {
    const be = (await createWebGpuBackend())!;
    try {
      if (!be.canProfile) {
        assertThrows(() => be.profileDispatches(true), BackendError);
        return;
      }
      await checkProfiling(be);
    } finally {
      be.dispose();
    }
  },
});

/** Uploads and reads are counted with their bytes (f16: two per element). */
async function checkTransfers(be: Backend): Promise<void> {
  const start = be.transfers();
  const a = be.alloc(10), h = be.alloc(6, "f16");
  be.upload(a, new Float32Array(10));
  be.upload(h, new Float32Array(6));
  await be.read(a, 2, 5);
  await be.read(h);
  const t = be.transfers();
  deepStrictEqual(
    [t.uploads - start.uploads, t.uploadBytes - start.uploadBytes],
    [2, 10 * 4 + 6 * 2],
  );
  deepStrictEqual([t.reads - start.reads, t.readBytes - start.readBytes], [2, 5 * 4 + 6 * 2]);
  be.free(a);
  be.free(h);
}

Deno.test("WASM counts host <-> device copies and their bytes", async () => {
  const be = await createWasmBackend();
  try {
    await checkTransfers(be);
  } finally {
    be.dispose();
  }
});

Deno.test({
  name: "WebGPU counts host <-> device copies and their bytes [webgpu]",
  ignore: !hasWebGpu,
  fn: async () => {
    const be = (await createWebGpuBackend())!;
    try {
      await checkTransfers(be);
    } finally {
      be.dispose();
    }
  },
});
