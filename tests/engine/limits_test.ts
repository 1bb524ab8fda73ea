// Device limits and device loss through the Backend interface, on both backends: WASM reports
// the wasm32 memory left (allocations count against it) and is never lost; WebGPU reports no
// free-memory figure, its largest buffer, whether its memory is the host's, and resolves `lost`
// with a reason once its device is destroyed, and dispose() settles only after that.

import assert from "node:assert/strict";
import { createWasmBackend } from "../../engine/wasm/backend.ts";
import { HEAP_BASE, MAX_BYTES } from "../../engine/wasm/allocator.ts";
import { createWebGpuBackend } from "../../engine/webgpu/backend.ts";
import { hasWebGpu } from "../helpers/backends.ts";

/** "settled" or "pending" after a short wait (a never-settling promise stays pending). */
const state = <T>(p: Promise<T>) =>
  Promise.race([
    p.then(() => "settled"),
    new Promise<string>((r) => setTimeout(() => r("pending"), 50)),
  ]);

Deno.test("wasm: limits count allocations; the device is never lost", async () => {
  const be = await createWasmBackend();
  try {
    const before = be.limits();
    assert.equal(before.isHostMemory, true);
    assert.equal(before.maxBufferBytes, MAX_BYTES - HEAP_BASE);
    assert.equal(before.freeBytes, MAX_BYTES - HEAP_BASE - be.allocatedBytes());
    const used = be.allocatedBytes();
    const buf = be.alloc(1 << 20);
    const grew = be.allocatedBytes() - used;
    assert.ok(grew >= 4 << 20, `allocated ${grew} bytes`);
    assert.equal(before.freeBytes! - be.limits().freeBytes!, grew);
    be.free(buf);
    assert.equal(be.limits().freeBytes, before.freeBytes);
    assert.equal(await state(be.lost), "pending");
  } finally {
    be.dispose();
  }
});

Deno.test({
  name: "webgpu: limits from the device; lost resolves with a reason once it is destroyed",
  ignore: !hasWebGpu,
  fn: async () => {
    const be = (await createWebGpuBackend())!;
    const limits = be.limits();
    assert.equal(limits.freeBytes, null);
    assert.equal(limits.isHostMemory, be.isFallback);
    assert.equal(limits.maxBufferBytes, be.device.limits.maxBufferSize);
    assert.equal(await state(be.lost), "pending");
    be.device.destroy();
    const reason = await be.lost;
    assert.equal(typeof reason, "string");
    assert.ok(reason.length > 0);
    try {
      be.dispose();
    } catch {
      // a destroyed device may refuse its own cleanup
    }
  },
});

Deno.test({
  name: "webgpu: dispose() settles once the device is lost; a second call gives the same promise",
  ignore: !hasWebGpu,
  fn: async () => {
    const be = (await createWebGpuBackend())!;
    be.upload(be.alloc(4), new Float32Array([1, 2, 3, 4]));
    let lost = false;
    be.lost.then(() => (lost = true));
    const released = be.dispose();
    assert.equal(be.dispose(), released);
    await released;
    assert.ok(lost, "dispose() settled before the device was lost");
  },
});
