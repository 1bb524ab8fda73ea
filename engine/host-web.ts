// The engine's host in a browser: the kernels' bytes and every WGSL source were fetched by URL
// before the engine starts (WGSL is compiled synchronously), and kernel threads are module Web
// Workers running the bundled ./wasm/web-worker.ts. The engine must itself run in a worker: a
// page's main thread may not block on Atomics.wait, which the WASM thread pool does.

import type { EngineHost, KernelThread } from "./host.ts";

/** The URLs webHost fetches the engine's assets from (what `deno task build:web` writes). */
export interface WebAssets {
  /** URL of kernels.wasm. */
  wasm: string | URL;
  /** URL of a JSON object: engine/wgsl/ file name (e.g. "lib/half.wgsl") -> text. */
  wgsl: string | URL;
  /** URL of the bundled kernel thread (engine/wasm/web-worker.ts). */
  thread: string | URL;
}

async function fetchOk(url: string | URL): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  return res;
}

function startThread(url: string | URL): Promise<KernelThread> {
  const w = new Worker(url, { type: "module" });
  const ready = new Promise<void>((resolve, reject) => {
    w.onmessage = () => resolve();
    w.onerror = (e) => reject(new Error(`kernel thread failed: ${e.message}`));
  }).finally(() => {
    w.onmessage = null;
    w.onerror = null;
  });
  return Promise.resolve({
    ready,
    post: (m) => w.postMessage(m),
    terminate: () => {
      w.terminate(); // a page's Worker stops at once
      return Promise.resolve();
    },
  });
}

/** Fetches the engine's assets and returns a host serving them (pass it to setEngineHost). */
export async function webHost(assets: WebAssets): Promise<EngineHost> {
  const [wasm, wgsl] = await Promise.all([
    fetchOk(assets.wasm).then((r) => r.arrayBuffer()),
    fetchOk(assets.wgsl).then((r) => r.json() as Promise<Record<string, string>>),
  ]);
  return {
    name: "browser",
    kernelsWasm: () => Promise.resolve(wasm),
    wgsl: (file) => {
      const text = wgsl[file];
      if (text === undefined) throw new Error(`${assets.wgsl}: no WGSL source "${file}"`);
      return text;
    },
    spawnKernelThread: () => startThread(assets.thread),
    prepareWebGpu: () => {},
    // A page has no reading of the system's free memory: the plan checks the device only.
    systemMemoryAvailable: () => Infinity,
  };
}
