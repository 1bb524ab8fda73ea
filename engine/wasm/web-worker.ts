// A WASM backend kernel thread in a browser: a module Web Worker started by the web host
// (../host-web.ts); build:web bundles this file on its own.

/// <reference lib="deno.worker" />

import type { InitMessage } from "./control.ts";
import { serve } from "./thread.ts";

self.onmessage = (e: MessageEvent<InitMessage>) => {
  self.onmessage = null;
  serve(e.data, () => self.postMessage("ready"));
};
