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

/**
 * Deno's host, under Deno. It is imported by a computed specifier so that a page's bundle, whose
 * worker sets its own host before it creates a backend, does not carry Deno's files and threads.
 */
async function defaultHost(): Promise<EngineHost | null> {
  if (typeof Deno === "undefined") return null;
  const url = new URL("./host-deno.ts", import.meta.url).href;
  const { denoHost }: { denoHost: typeof DenoHost } = await import(url);
  return denoHost;
}

let current: EngineHost | null = await defaultHost();

/** The host the engine uses now. */
export function engineHost(): EngineHost {
  if (!current) throw new Error("no engine host: a page sets one (webHost) with setEngineHost");
  return current;
}

/** Replaces the host (a page does this once, before creating a backend). */
export function setEngineHost(host: EngineHost): void {
  current = host;
}
