// Test helpers: run a test body on every backend. WebGPU tests are registered as ignored (and so
// reported as such) when no adapter exists, never silently passed.

import type { Backend } from "../../engine/backend.ts";
import { createWasmBackend } from "../../engine/wasm/backend.ts";
import { createWebGpuBackend, requestAdapter } from "../../engine/webgpu/backend.ts";

export const hasWebGpu = (await requestAdapter(true)) !== null;

const cache = new Map<string, Promise<Backend>>();
const created: Backend[] = [];

// Shared backends are disposed after the module's last test, and awaited: their WebGPU devices are
// lost and their WASM worker threads have exited before the module ends. A thread still tearing
// down while the test runner exits once aborted it ("double free or corruption", "corrupted size
// vs. prev_size") after every test had passed.
Deno.test.afterAll(async () => {
  await Promise.allSettled(created.splice(0).map((b) => Promise.resolve().then(() => b.dispose())));
});

/** Registers a backend of this test file to be disposed (and awaited) after its last test. */
export function disposedAfterAll<B extends Backend>(backend: B): B {
  created.push(backend);
  return backend;
}

/** One shared backend per kind per test file (adapters and wasm compiles are slow). */
export function getBackend(kind: "wasm" | "webgpu"): Promise<Backend> {
  let b = cache.get(kind);
  if (!b) {
    b = (kind === "wasm" ? createWasmBackend() : createWebGpuBackend().then((g) => {
      if (!g) throw new Error("no WebGPU adapter");
      return g;
    })).then(disposedAfterAll);
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
