// The engine's one seam to its host: where the kernels' bytes and WGSL text come from, how a WASM
// kernel thread starts, per-host WebGPU setup, and the system memory the memory plan may use. Deno
// (the default, ./host-deno.ts) reads files and starts node:worker_threads; a page sets a host that
// fetched its assets by URL and starts Web Workers (./host-web.ts). Nothing else in engine/ or
// src/ touches files or the system to compute.

import { hostSlot } from "./host-slot.ts";

/** A started WASM kernel thread (engine/wasm/thread.ts runs inside it). */
export interface KernelThread {
  /** Resolves at the thread's first message (it is serving), rejects if it fails or exits. */
  readonly ready: Promise<void>;
  /**
   * Sends the thread a message (postMessage: structured clone; shared memory is shared, not
   * copied); the pool sends one, its InitMessage.
   */
  post(message: unknown): void;
  /** Stops the thread; settles once it has exited. */
  terminate(): Promise<void>;
}

/**
 * What the engine reads from outside itself: its kernels, WGSL sources and kernel threads. Deno's
 * host (the default) reads files; a page sets webHost's with setEngineHost before any backend.
 */
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
  /**
   * When no WebGPU adapter was found: a setting of the user's that may be why (Deno: a
   * DENO_WEBGPU_BACKEND they set, named with its value), else null.
   */
  noAdapterHint?(): string | null;
  /** Bytes of system memory available now; Infinity where the host cannot read it. */
  systemMemoryAvailable(): number;
}

const slot = hostSlot<EngineHost>(
  new URL("./host-deno.ts", import.meta.url),
  "denoHost",
  "no engine host: a page sets one (webHost) with setEngineHost",
);

/** The host: the one set, else under Deno Deno's (./host-deno.ts), imported on first use. */
export function readyEngineHost(): Promise<EngineHost> {
  return slot.ready();
}

/** The host the engine uses now: set, or resolved by readyEngineHost (creating a backend does). */
export function engineHost(): EngineHost {
  const host = slot.now();
  if (!host) throw new Error("no engine host yet: await readyEngineHost() first");
  return host;
}

/** Replaces the host (a page does this once, before creating a backend). */
export function setEngineHost(host: EngineHost): void {
  slot.set(host);
}
