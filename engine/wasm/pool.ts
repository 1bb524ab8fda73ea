// A pool of worker threads for the WASM backend (started by the engine host, ../host.ts). Every
// worker instantiates the same compiled kernel module over the backend's shared
// WebAssembly.Memory, so a kernel call made on a worker sees the same buffers as one made on the
// calling thread. run() hands each worker one call through the control block (./control.ts),
// makes its own call on the calling thread, then blocks (Atomics.wait) until every worker is
// done: dispatch stays synchronous.

import { BackendError } from "../backend.ts";
import { type KernelThread, readyEngineHost } from "../host.ts";
import {
  ARGS_OFFSET,
  controlBytes,
  CTL_ERROR,
  CTL_GEN,
  CTL_QUIT,
  CTL_REMAINING,
  type InitMessage,
  MAX_ARGS,
  SLOT_BYTES,
} from "./control.ts";

/** One kernel call: an export of the module and its arguments. */
export interface Call {
  fn: string;
  args: readonly number[];
}

export class ThreadPool {
  readonly #workers: KernelThread[];
  readonly #ctl: Int32Array<SharedArrayBuffer>;
  readonly #memory: WebAssembly.Memory;
  readonly #ctlOffset: number;
  readonly #names: Map<string, number>;
  readonly #local: Record<string, unknown>;
  #closed: Promise<void> | null = null;

  private constructor(
    workers: KernelThread[],
    memory: WebAssembly.Memory,
    ctlOffset: number,
    names: string[],
    local: Record<string, unknown>,
  ) {
    this.#workers = workers;
    this.#local = local;
    this.#memory = memory;
    this.#ctlOffset = ctlOffset;
    this.#ctl = new Int32Array(memory.buffer as unknown as SharedArrayBuffer, ctlOffset, 16);
    this.#names = new Map(names.map((n, i) => [n, i]));
  }

  /**
   * Starts `threads - 1` workers (the calling thread is the other one). `ctlOffset` is a zeroed,
   * 64-byte aligned block of controlBytes(threads) bytes in `memory`; `names` are the exports jobs
   * may call; `init(slot)` lists the calls each worker makes once after instantiating the module;
   * `local` are the calling thread's instance exports, which run calls[0].
   */
  static async create(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    threads: number,
    ctlOffset: number,
    names: string[],
    init: (slot: number) => [string, number[]][],
    local: Record<string, unknown>,
  ): Promise<ThreadPool> {
    new Int32Array(
      memory.buffer as unknown as SharedArrayBuffer,
      ctlOffset,
      controlBytes(threads) / 4,
    )
      .fill(0);
    const workers: KernelThread[] = [];
    try {
      for (let slot = 1; slot < threads; slot++) {
        const w = await (await readyEngineHost()).spawnKernelThread();
        workers.push(w);
        // Awaited below with the others; a failure before then must not go unhandled.
        w.ready.catch(() => {});
        const msg: InitMessage = { module, memory, ctl: ctlOffset, slot, names, init: init(slot) };
        w.post(msg);
      }
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      for (const w of workers) w.terminate();
      throw new BackendError(
        `WASM thread pool failed to start: ${e instanceof Error ? e.message : e}`,
      );
    }
    return new ThreadPool(workers, memory, ctlOffset, names, local);
  }

  /** Threads, the calling one included. */
  get threads(): number {
    return this.#workers.length + 1;
  }

  /**
   * Runs calls[0] on the calling thread and calls[i] on worker i, and returns when all are done.
   * Fewer calls than threads leave the other workers idle.
   */
  run(calls: readonly Call[]): void {
    if (this.#closed) throw new BackendError("thread pool used after dispose()");
    if (calls.length > this.threads) {
      throw new BackendError(`${calls.length} calls for a pool of ${this.threads} threads`);
    }
    const ctl = this.#ctl;
    const buf = this.#memory.buffer as unknown as SharedArrayBuffer;
    for (let w = 1; w < this.threads; w++) {
      const base = this.#ctlOffset + w * SLOT_BYTES;
      const slot = new Int32Array(buf, base, 2);
      const call = calls[w];
      if (!call) {
        slot[0] = -1;
        continue;
      }
      const fi = this.#names.get(call.fn);
      if (fi === undefined || call.args.length > MAX_ARGS) {
        throw new BackendError(`thread pool: cannot run ${call.fn} with ${call.args.length} args`);
      }
      slot[0] = fi;
      slot[1] = call.args.length;
      new Float64Array(buf, base + ARGS_OFFSET, call.args.length).set(call.args);
    }
    Atomics.store(ctl, CTL_ERROR, 0);
    Atomics.store(ctl, CTL_REMAINING, this.threads - 1);
    Atomics.add(ctl, CTL_GEN, 1);
    Atomics.notify(ctl, CTL_GEN);
    try {
      const c = calls[0];
      if (c) (this.#local[c.fn] as (...args: readonly number[]) => void)(...c.args);
    } finally {
      for (
        let r = Atomics.load(ctl, CTL_REMAINING);
        r !== 0;
        r = Atomics.load(ctl, CTL_REMAINING)
      ) {
        Atomics.wait(ctl, CTL_REMAINING, r);
      }
    }
    if (Atomics.load(ctl, CTL_ERROR) !== 0) {
      throw new BackendError(`a WASM worker failed running ${calls.map((c) => c.fn).join(", ")}`);
    }
  }

  /**
   * Stops and terminates the workers; later run() calls throw. Settles once every worker thread
   * has exited. Idempotent.
   */
  dispose(): Promise<void> {
    if (this.#closed) return this.#closed;
    // A worker blocked in Atomics.wait ignores terminate(): wake it with the quit flag first.
    Atomics.store(this.#ctl, CTL_QUIT, 1);
    Atomics.add(this.#ctl, CTL_GEN, 1);
    Atomics.notify(this.#ctl, CTL_GEN);
    this.#closed = Promise.all(this.#workers.map((w) => w.terminate())).then(() => {});
    return this.#closed;
  }
}
