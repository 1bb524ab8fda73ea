// The engine's one seam to its host: where the kernels' bytes and WGSL text come from, how a WASM
// kernel thread starts, and per-host WebGPU setup. Deno (the default, ./host-deno.ts) reads files
// and starts node:worker_threads; a page sets a host that fetched its assets by URL and starts Web
// Workers (./host-web.ts). Nothing else in engine/ or src/ touches files to compute.

import { denoHost } from "./host-deno.ts";

/** A started WASM kernel thread (engine/wasm/thread.ts runs inside it). */
export interface KernelThread {
  /** Resolves at the thread's first message (it is serving), rejects if it fails or exits. */
  readonly ready: Promise<void>;
  post(message: unknown): void;
  terminate(): void;
}

export interface EngineHost {
  /** What the engine runs on, for messages ("deno", "browser"). */
  readonly name: string;
  /** The bytes of the AssemblyScript kernels (build/kernels.wasm). */
  kernelsWasm(): Promise<BufferSource>;
  /** The text of engine/wgsl/<file> (e.g. "matmul.wgsl", "lib/half.wgsl"). */
  wgsl(file: string): string;
  /** Starts one kernel thread; it must not keep the host process alive when idle. */
  spawnKernelThread(): Promise<KernelThread>;
  /** Once before the first WebGPU adapter request. */
  prepareWebGpu(): void;
}

let current: EngineHost = denoHost;

/** The host the engine uses now. */
export function engineHost(): EngineHost {
  return current;
}

/** Replaces the host (a page does this once, before creating a backend). */
export function setEngineHost(host: EngineHost): void {
  current = host;
}
