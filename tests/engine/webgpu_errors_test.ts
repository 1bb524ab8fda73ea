// A WebGPU command that fails validation is skipped by the device and its outputs keep whatever
// they held (zeros, for a kernel Chrome's compiler refused): the backend must throw at the next
// call instead of returning those values as results.

import { strict as assert } from "node:assert";
import { BackendError } from "../../engine/backend.ts";
import { createWebGpuBackend } from "../../engine/webgpu/backend.ts";
import { hasWebGpu } from "../helpers/backends.ts";

Deno.test({
  name: "an uncaptured WebGPU error is thrown by the next read, naming it",
  ignore: !hasWebGpu,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const be = (await createWebGpuBackend())!;
    try {
      const buf = be.alloc(4);
      be.upload(buf, new Float32Array([1, 2, 3, 4]));
      assert.deepEqual(Array.from(await be.read(buf)), [1, 2, 3, 4]);
      // A shader that does not compile: the device reports it only as an uncaptured error.
      be.device.createShaderModule({ code: "this is not WGSL" });
      await assert.rejects(
        async () => {
          // The error event is delivered asynchronously; a read waits on the device.
          for (let i = 0; i < 50; i++) await be.read(buf);
        },
        (e) => e instanceof BackendError && /WebGPU error/.test(e.message),
      );
    } finally {
      be.dispose();
    }
  },
});
