// Test helpers: run a test body on every backend. WebGPU tests are registered as ignored (and so
// reported as such) when no adapter exists, never silently passed.

import type { Backend } from "../../engine/backend.ts";
import { createWasmBackend } from "../../engine/wasm/backend.ts";
import { createWebGpuBackend, requestAdapter } from "../../engine/webgpu/backend.ts";

export const hasWebGpu = (await requestAdapter(true)) !== null;

const cache = new Map<string, Promise<Backend>>();
const created: Backend[] = [];

// Shared backends are disposed when the test module unloads, so WebGPU devices and WASM worker
// threads end with it rather than in the process's own teardown (where the test runner once
// aborted with "double free or corruption" after every test had passed).
globalThis.addEventListener("unload", () => {
  for (const b of created.splice(0)) {
    try {
      b.dispose();
    } catch {
      // a device already lost or destroyed by a test
    }
  }
});

/** One shared backend per kind per test file (adapters and wasm compiles are slow). */
export function getBackend(kind: "wasm" | "webgpu"): Promise<Backend> {
  let b = cache.get(kind);
  if (!b) {
    b = (kind === "wasm" ? createWasmBackend() : createWebGpuBackend().then((g) => {
      if (!g) throw new Error("no WebGPU adapter");
      return g;
    })).then((backend: Backend) => {
      created.push(backend);
      return backend;
    });
    cache.set(kind, b);
  }
  return b;
}

/** Registers `name [wasm]` and `name [webgpu]`; the latter is ignored without an adapter. */
export function testBackends(name: string, fn: (b: Backend) => Promise<void> | void): void {
  for (const kind of ["wasm", "webgpu"] as const) {
    Deno.test({
      name: `${name} [${kind}]`,
      ignore: kind === "webgpu" && !hasWebGpu,
      // Backends are shared across tests in a file and live for the whole run.
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => fn(await getBackend(kind)),
    });
  }
}
