// The body of a WASM kernel thread: instantiates the kernel module over the backend's shared
// memory, runs the calls it is given by the pool (see control.ts for the control block layout) and
// sleeps on Atomics.wait in between. ./worker.ts (Deno, node:worker_threads) and
// ./web-worker.ts (a browser's Web Worker) start it.

import {
  ARGS_OFFSET,
  CTL_ERROR,
  CTL_GEN,
  CTL_QUIT,
  CTL_REMAINING,
  type InitMessage,
  MAX_ARGS,
  SLOT_BYTES,
  SPIN_ITERATIONS,
} from "./control.ts";

type Fn = (...args: number[]) => unknown;

/** Serves the pool's jobs forever (until quit); `ready` is called once it listens. */
export function serve(msg: InitMessage, ready: () => void): void {
  const instance = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } });
  const exports = instance.exports as Record<string, Fn>;
  for (const [name, args] of msg.init) exports[name](...args);
  const fns = msg.names.map((n) => exports[n]);
  const buf = msg.memory.buffer as unknown as SharedArrayBuffer;
  const ctl = new Int32Array(buf, msg.ctl, 16);
  const slotBase = msg.ctl + msg.slot * SLOT_BYTES;
  const slot = new Int32Array(buf, slotBase, 2);
  const args = new Float64Array(buf, slotBase + ARGS_OFFSET, MAX_ARGS);
  // Read the generation before saying ready: the first job may be posted the moment the pool
  // hears from us, and must not be mistaken for the current state.
  let gen = Atomics.load(ctl, CTL_GEN);
  ready();
  for (;;) {
    // Back-to-back dispatches arrive within microseconds: spin briefly before sleeping.
    for (let i = 0; i < SPIN_ITERATIONS && Atomics.load(ctl, CTL_GEN) === gen; i++);
    Atomics.wait(ctl, CTL_GEN, gen);
    const now = Atomics.load(ctl, CTL_GEN);
    if (now === gen) continue;
    gen = now;
    if (Atomics.load(ctl, CTL_QUIT) !== 0) break;
    try {
      const fi = slot[0];
      if (fi >= 0) fns[fi](...Array.from(args.subarray(0, slot[1])));
    } catch (e) {
      Atomics.store(ctl, CTL_ERROR, 1);
      console.error(`wasm worker ${msg.slot}: ${e instanceof Error ? e.message : e}`);
    } finally {
      if (Atomics.sub(ctl, CTL_REMAINING, 1) === 1) Atomics.notify(ctl, CTL_REMAINING);
    }
  }
  // Quit: the pool terminates this worker next.
}
