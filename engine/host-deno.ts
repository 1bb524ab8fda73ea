// The engine's host under Deno: kernels and WGSL are read from the repository's files, kernel
// threads are node:worker_threads (they can be unref'd, so an idle pool never keeps a script
// from exiting), WebGPU runs on wgpu's Vulkan backend alone with a private runtime folder for the
// Vulkan loader, and the system memory is Deno's reading (Infinity without --allow-sys).

import type { EngineHost, KernelThread } from "./host.ts";

const WASM_URL = new URL("../build/kernels.wasm", import.meta.url);
const WGSL_DIR = new URL("./wgsl/", import.meta.url);
const THREAD_URL = new URL("./wasm/worker.ts", import.meta.url);

interface NodeWorker {
  once(event: string, fn: (x: unknown) => void): void;
  postMessage(message: unknown): void;
  removeAllListeners(): void;
  unref(): void;
  /** Settles once the thread has exited (Node's contract, which Deno keeps). */
  terminate(): Promise<number>;
}

/** node:worker_threads, imported when the first kernel thread starts. */
async function nodeWorker(url: URL): Promise<NodeWorker> {
  const { Worker } = await import("node:worker_threads") as {
    Worker: new (url: URL) => NodeWorker;
  };
  return new Worker(url);
}

async function spawnKernelThread(): Promise<KernelThread> {
  const w = await nodeWorker(THREAD_URL);
  const ready = new Promise<void>((resolve, reject) => {
    w.once("message", () => resolve());
    w.once("error", (e) => reject(e));
    w.once("exit", (code) => reject(new Error(`worker exited with code ${code}`)));
  }).then(() => {
    w.removeAllListeners();
    w.unref();
  });
  return { ready, post: (m) => w.postMessage(m), terminate: () => w.terminate().then(() => {}) };
}

async function kernelsWasm(): Promise<BufferSource> {
  try {
    return await Deno.readFile(WASM_URL);
  } catch (e) {
    throw new Error(
      `cannot read ${WASM_URL.pathname} (${(e as Error).message}); run \`deno task build:wasm\``,
    );
  }
}

/**
 * On Linux, before the first adapter request:
 * - wgpu is asked for Vulkan only (DENO_WEBGPU_BACKEND=vulkan, unless the variable is set).
 *   Otherwise it also starts its GL backend, which loads EGL and Mesa's GL rasterizer with
 *   threads of its own; the engine's compute never uses it, and those threads, still exiting
 *   while the process ran its exit handlers, aborted processes after their work was done
 *   ("corrupted size vs. prev_size in fastbins"). DENO_WEBGPU_BACKEND=gl brings GL back.
 * - The Vulkan loader prints "XDG_RUNTIME_DIR is invalid or not set" on every adapter probe of
 *   a headless session (CI, ssh, containers); it is harmless but reads as an error. A private
 *   0700 runtime folder for this process silences it; a set variable is left alone.
 */
function prepareWebGpu(): void {
  userWebGpuBackend = webGpuBackendVariable();
  if (Deno.build.os !== "linux") return;
  try {
    if (!Deno.env.get("DENO_WEBGPU_BACKEND")) Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
    if (Deno.env.get("XDG_RUNTIME_DIR")) return;
    const dir = Deno.makeTempDirSync({ prefix: "kne-xdg-" });
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // already gone
      }
    });
  } catch {
    // without env or write permission the message stays; nothing else depends on it
  }
}

/** DENO_WEBGPU_BACKEND as the user set it (undefined: not read yet; null: not set). */
let userWebGpuBackend: string | null | undefined;

function webGpuBackendVariable(): string | null {
  try {
    return Deno.env.get("DENO_WEBGPU_BACKEND") ?? null;
  } catch {
    return null; // without env permission wgpu reads it all the same; nothing to name
  }
}

/**
 * A DENO_WEBGPU_BACKEND the user set limits wgpu to the backends it lists: a name it does not
 * know ("bogus") or one this system lacks ("metal" on Linux) leaves no adapter, which alone reads
 * as if the machine had no GPU. Names the variable and its value (prepareWebGpu's "vulkan" is not
 * the user's).
 */
function noAdapterHint(): string | null {
  const value = userWebGpuBackend === undefined ? webGpuBackendVariable() : userWebGpuBackend;
  if (value === null) return null;
  return `DENO_WEBGPU_BACKEND is ${JSON.stringify(value)}, and wgpu tries only the backends ` +
    `it lists (of vulkan, gl, metal, dx12): unset it, or name one this machine has`;
}

function systemMemoryAvailable(): number {
  try {
    return Deno.systemMemoryInfo().available;
  } catch {
    return Infinity;
  }
}

export const denoHost: EngineHost = {
  name: "deno",
  kernelsWasm,
  wgsl: (file) => Deno.readTextFileSync(new URL(file, WGSL_DIR)),
  spawnKernelThread,
  prepareWebGpu,
  noAdapterHint,
  systemMemoryAvailable,
};
