// Backend choice for every entry point: `--backend webgpu|wasm|auto`. auto prefers a real
// (non-fallback) GPU adapter and otherwise the WASM backend.

import { type Backend, BackendError } from "./backend.ts";
import { readyEngineHost } from "./host.ts";
import { createWasmBackend } from "./wasm/backend.ts";
import { createWebGpuBackend } from "./webgpu/backend.ts";

/** What createBackend is asked for: a WebGPU adapter, the WASM backend, or the best there is. */
export type BackendChoice = "webgpu" | "wasm" | "auto";

export function parseBackendChoice(s: string): BackendChoice {
  if (s === "webgpu" || s === "wasm" || s === "auto") return s;
  throw new BackendError(`--backend must be webgpu, wasm or auto, got "${s}"`);
}

/**
 * A backend of `choice`: "wasm", "webgpu" (a fallback adapter such as lavapipe included; refused
 * when there is no adapter) or "auto" (a real GPU adapter, else WASM). Any other value is refused
 * (a BackendError naming the three): "gpu" or "WASM" used to be taken as "auto", so a typo went
 * unnoticed. Dispose it when done (Backend.dispose).
 */
export async function createBackend(choice: BackendChoice = "auto"): Promise<Backend> {
  if (choice !== "wasm" && choice !== "webgpu" && choice !== "auto") {
    throw new BackendError(
      `createBackend: the backend must be "webgpu", "wasm" or "auto", got ${
        JSON.stringify(choice)
      }`,
    );
  }
  if (choice === "wasm") return await createWasmBackend();
  if (choice === "webgpu") {
    const gpu = await createWebGpuBackend({ allowFallback: true });
    if (!gpu) {
      // A setting of the user's that explains it (a DENO_WEBGPU_BACKEND), named with its value.
      const hint = (await readyEngineHost()).noAdapterHint?.() ?? null;
      throw new BackendError(`--backend webgpu: no WebGPU adapter found${hint ? `; ${hint}` : ""}`);
    }
    return gpu;
  }
  const gpu = await createWebGpuBackend({ allowFallback: false });
  return gpu ?? await createWasmBackend();
}
