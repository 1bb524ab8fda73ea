// createBackend (engine/select.ts), the library's way to a backend: a choice other than webgpu,
// wasm or auto is refused naming the three (it was taken as auto, so a typo gave a backend the
// caller had not asked for without a word).

import assert from "node:assert/strict";
import { BackendError } from "../../engine/backend.ts";
import { type BackendChoice, createBackend } from "../../engine/select.ts";

Deno.test("createBackend refuses a choice other than webgpu, wasm or auto", async () => {
  for (const choice of ["gpu", "WASM", "", null]) {
    await assert.rejects(
      () => createBackend(choice as unknown as BackendChoice),
      (e: Error) => {
        assert.ok(e instanceof BackendError);
        assert.equal(
          e.message,
          `createBackend: the backend must be "webgpu", "wasm" or "auto", got ${
            JSON.stringify(choice)
          }`,
        );
        return true;
      },
    );
  }
  const wasm = await createBackend("wasm");
  assert.equal(wasm.name, "wasm");
  await wasm.dispose();
});
