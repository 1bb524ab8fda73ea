// A WASM backend kernel thread under Deno, started by the Deno host (../host-deno.ts) through
// node:worker_threads so that it can be unref'd: an idle pool never keeps a script from exiting.

import { parentPort } from "node:worker_threads";
import type { InitMessage } from "./control.ts";
import { serve } from "./thread.ts";

parentPort!.once(
  "message",
  (msg: InitMessage) => serve(msg, () => parentPort!.postMessage("ready")),
);
