// The WASM thread pool's protocol, shared by the pool (./pool.ts) and its threads (./thread.ts):
// the control block's layout in the backend's shared memory and the message a thread gets at
// start. Kept apart from the pool so that a kernel thread's bundle carries nothing of the host.
//
// Control block (allocated by the backend in the shared memory, controlBytes(threads) long):
//   Int32 [CTL_GEN]        job generation; bumped (and notified) to start a job
//   Int32 [CTL_REMAINING]  workers still running the current job; the last one notifies
//   Int32 [CTL_QUIT]       set before the final bump: workers exit their loop
//   Int32 [CTL_ERROR]      set by a worker whose call threw
//   slot w (1..threads-1) at w * SLOT_BYTES: Int32 export index (-1: nothing to do this job),
//   Int32 argument count, then Float64 arguments at ARGS_OFFSET (exact for u32, i32 and f32).

export const CTL_GEN = 0;
export const CTL_REMAINING = 1;
export const CTL_QUIT = 2;
export const CTL_ERROR = 3;
export const SLOT_BYTES = 256;
export const ARGS_OFFSET = 8;
export const MAX_ARGS = (SLOT_BYTES - ARGS_OFFSET) / 8;
/** Polls of the generation word a worker makes after a job before it sleeps (~50-70 us). */
export const SPIN_ITERATIONS = 10000;

/** Bytes of shared memory a pool of `threads` threads needs for its control block. */
export function controlBytes(threads: number): number {
  return Math.max(1, threads) * SLOT_BYTES;
}

/** What a worker receives once, at start. */
export interface InitMessage {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Byte offset of the control block. */
  ctl: number;
  /** This worker's slot, 1..threads-1 (the calling thread is slot 0). */
  slot: number;
  /** Exports a job may name, by index. */
  names: string[];
  /** Calls to make once after instantiation (e.g. setting this thread's scratch space). */
  init: [string, number[]][];
}
