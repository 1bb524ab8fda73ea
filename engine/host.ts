// The engine's one seam to its host: where the kernels' bytes and WGSL text come from, how a WASM
// kernel thread starts, per-host WebGPU setup, and the system memory the memory plan may use. Deno
// (the default, ./host-deno.ts) reads files and starts node:worker_threads; a page sets a host that
// fetched its assets by URL and starts Web Workers (./host-web.ts). Nothing else in engine/ or
// src/ touches files or the system to compute.

import type { denoHost as DenoHost } from "./host-deno.ts";

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
  /** Bytes of system memory available now; Infinity where the host cannot read it. */
  systemMemoryAvailable(): number;
}

let current: EngineHost | null = null;
let denoDefault: Promise<EngineHost> | null = null;

/**
 * The host: the one set, else under Deno Deno's, imported on first use. The import is by a
 * computed specifier, so that a page's bundle (whose worker sets its own host first) does not
 * carry Deno's files and threads; and lazily, not by a top-level await, which in a module this
 * widely imported makes Deno's second and later Workers of a process hang while loading.
 */
export async function readyEngineHost(): Promise<EngineHost> {
  if (current) return current;
  if (typeof Deno === "undefined") {
    throw new Error("no engine host: a page sets one (webHost) with setEngineHost");
  }
  const url = new URL("./host-deno.ts", import.meta.url).href;
  denoDefault ??= import(url).then((m: { denoHost: typeof DenoHost }) => m.denoHost);
  const host = await denoDefault;
  current ??= host;
  return current;
}

/** The host the engine uses now: set, or resolved by readyEngineHost (creating a backend does). */
export function engineHost(): EngineHost {
  if (!current) throw new Error("no engine host yet: await readyEngineHost() first");
  return current;
}

/** Replaces the host (a page does this once, before creating a backend). */
export function setEngineHost(host: EngineHost): void {
  current = host;
}
