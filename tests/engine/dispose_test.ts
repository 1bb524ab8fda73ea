// A disposed backend refuses to be used, on every backend alike: from the dispose() call on (before
// its promise settles, and after), every call but free() and the counters throws a BackendError
// naming the call and saying the backend was disposed. The WASM backend went on computing on the
// calling thread; WebGPU accepted allocations and uploads and then failed a read with the device's
// "validation error occurred" (an OperationError).

import assert from "node:assert/strict";
import { type Backend, BackendError } from "../../engine/backend.ts";
import { MeasuringBackend } from "../../engine/measure/backend.ts";
import { createWasmBackend } from "../../engine/wasm/backend.ts";
import { createWebGpuBackend } from "../../engine/webgpu/backend.ts";
import { hasWebGpu } from "../helpers/backends.ts";

/** Every call of the Backend interface a disposed backend must refuse, on a live buffer `buf`. */
function uses(be: Backend, buf: ReturnType<Backend["alloc"]>): [string, () => unknown][] {
  return [
    ["alloc", () => be.alloc(4)],
    ["upload", () => be.upload(buf, new Float32Array(4))],
    ["read", () => be.read(buf)],
    ["kernel fill", () => be.dispatch("fill", [buf], [4, 1])],
    ["copy", () => be.copy(buf, 0, buf, 0, 0)],
    ["sync", () => be.sync()],
    ["limits", () => be.limits()],
    ["profileDispatches", () => be.profileDispatches(false)],
    ["takeDispatchTimes", () => be.takeDispatchTimes()],
  ];
}

async function refusesAfterDispose(be: Backend): Promise<void> {
  const buf = be.alloc(4);
  be.upload(buf, new Float32Array([1, 2, 3, 4]));
  // The measuring backend holds no data: its reads are zeros.
  const data = be instanceof MeasuringBackend ? [0, 0, 0, 0] : [1, 2, 3, 4];
  assert.deepEqual([...await be.read(buf)], data);
  const released = be.dispose();
  for (const settled of [false, true]) {
    if (settled) await released;
    for (const [what, use] of uses(be, buf)) {
      await assert.rejects(
        async () => await use(),
        (e) =>
          e instanceof BackendError &&
          e.message === `${what}: the ${be.name} backend was disposed (dispose() released it); ` +
              "create another one",
        `${be.name} ${what} (${settled ? "after dispose settled" : "right after dispose()"})`,
      );
    }
  }
  // Cleanup may come after dispose(): counters, free() and dispose() again.
  assert.equal(typeof be.allocatedBytes(), "number");
  assert.ok(be.transfers().uploads >= 1);
  be.free(buf);
  await be.dispose();
}

Deno.test("a disposed WASM backend refuses every call but free() and the counters", async () => {
  await refusesAfterDispose(await createWasmBackend({ threads: 2 }));
});

Deno.test({
  name: "a disposed WebGPU backend refuses every call but free() and the counters",
  ignore: !hasWebGpu,
  fn: async () => await refusesAfterDispose((await createWebGpuBackend())!),
});

Deno.test("a disposed measuring backend refuses every call as a real one does", async () => {
  await refusesAfterDispose(new MeasuringBackend());
});
