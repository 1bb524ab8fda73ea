// The WASM backend: kernels compiled from engine/assembly/ (SIMD, relaxed SIMD) running on a
// shared WebAssembly.Memory. All buffers live in that one memory; dispatch is synchronous.
// Large matmuls, and large calls of kernels made of independent pieces (rows, elements), are split
// across a pool of worker threads (pool.ts) that share the memory; the calling thread computes its
// share and waits for the others before dispatch returns.

import {
  type Backend,
  BackendError,
  type Binding,
  checkAllocLength,
  checkNotDisposed,
  checkRange,
  type DeviceBuffer,
  type DeviceLimits,
  type DispatchTime,
  type DType,
  DTYPE_BYTES,
  isSlice,
  type KernelParams,
  ownedBuffer,
  recordRead,
  recordUpload,
  sliceAlign,
  type Transfers,
} from "../backend.ts";
import { fromHalfBits, toHalfBits } from "../half.ts";
import { kernelSpec } from "../kernels/index.ts";
import { validateDispatch } from "../kernels/spec.ts";
import { HEAP_BASE, LinearAllocator, MAX_BYTES, sizeClass } from "./allocator.ts";
import { controlBytes } from "./control.ts";
import { type Call, ThreadPool } from "./pool.ts";
import { readyEngineHost } from "../host.ts";
import {
  MATMUL_VARIANTS,
  MIN_PARALLEL_ELEMENTS,
  MIN_PARALLEL_MACS,
  splitMatmul,
  splitPieces,
} from "./split.ts";

class WasmBuffer implements DeviceBuffer {
  freed = false;
  constructor(
    readonly id: number,
    readonly length: number,
    readonly dtype: DType,
    readonly backend: WasmBackend,
    readonly byteOffset: number,
  ) {}

  get bytesPer(): number {
    return DTYPE_BYTES[this.dtype];
  }
}

type KernelFn = (...args: number[]) => void;

export interface WasmOptions {
  /**
   * Threads that run kernels, the calling one included (default navigator.hardwareConcurrency,
   * at least 1). With more than one, large matmuls are split across worker threads.
   */
  threads?: number;
  /**
   * Lower the per-binding limit (bytes) below the wasm32 memory size, to exercise the chunking of
   * large weights; dispatches then reject bindings over it, or slices not 64-element aligned.
   */
  maxBindingBytes?: number;
  /**
   * Least work (elements times cost per element) a call of a kernel of pieces must do to be split
   * across the threads (default MIN_PARALLEL_ELEMENTS); 1 splits every such call.
   */
  minParallelElements?: number;
}

export class WasmBackend implements Backend {
  readonly name = "wasm" as const;
  /** Linear memory in this process is never lost. */
  readonly lost: Promise<string> = new Promise(() => {});
  /** Dispatches run synchronously here: each one's wall time is its time. */
  readonly canProfile = true;
  #profiling = false;
  #transfers: Transfers = { uploads: 0, uploadBytes: 0, reads: 0, readBytes: 0 };
  /** The dispatches timed since the last takeDispatchTimes. */
  #timed: DispatchTime[] = [];
  readonly maxBindingElements: number;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly #exports: Record<string, unknown>;
  readonly #alloc: LinearAllocator;
  #nextId = 1;
  #f32: Float32Array<SharedArrayBuffer> | null = null;
  #u16: Uint16Array<SharedArrayBuffer> | null = null;
  #pool: ThreadPool | null = null;
  /** Settles once the last pool disposed has no thread left (a later dispose() returns it). */
  #released: Promise<void> = Promise.resolve();
  /** dispose() was called: every call but free() and the counters throws (checkNotDisposed). */
  #disposed = false;
  /** Bytes the backend holds for itself (packing scratch, pool control): not in allocatedBytes. */
  #reserved = 0;
  /** Packing space per thread for the matmul kernels (0 when the module has none). */
  readonly #scratchBytes: number;
  readonly #minParallelElements: number;

  constructor(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    maxBindingBytes?: number,
    minParallelElements = MIN_PARALLEL_ELEMENTS,
  ) {
    this.maxBindingElements = Math.floor(Math.min(MAX_BYTES, maxBindingBytes ?? MAX_BYTES) / 4);
    this.#minParallelElements = minParallelElements;
    this.module = module;
    this.memory = memory;
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    this.#exports = instance.exports as Record<string, unknown>;
    this.#alloc = new LinearAllocator(memory);
    const scratchBytes = this.#exports.matmul_scratch_bytes as (() => number) | undefined;
    this.#scratchBytes = scratchBytes ? scratchBytes() : 0;
    if (this.#scratchBytes > 0) {
      (this.#exports.matmul_set_scratch as KernelFn)(this.#reserve(this.#scratchBytes));
    }
  }

  get description(): string {
    const t = this.threads;
    return `WebAssembly SIMD (${t} thread${t === 1 ? "" : "s"})`;
  }

  /** Threads that run kernels, the calling one included. */
  get threads(): number {
    return this.#pool?.threads ?? 1;
  }

  #reserve(bytes: number): number {
    this.#reserved += sizeClass(bytes);
    return this.#alloc.alloc(bytes);
  }

  /**
   * Starts worker threads so that `threads` threads (this one included) run large kernels; called
   * once by createWasmBackend. Each worker gets its own packing space from this allocator.
   */
  async startThreads(threads: number): Promise<void> {
    this.#open("startThreads");
    if (this.#pool) throw new BackendError("startThreads: the thread pool is already running");
    if (!Number.isInteger(threads) || threads < 1) {
      throw new BackendError(`threads must be a positive integer, got ${threads}`);
    }
    if (threads === 1 || this.#scratchBytes === 0) return;
    const ctl = this.#reserve(controlBytes(threads));
    const scratch = Array.from(
      { length: threads },
      (_, i) => i === 0 ? 0 : this.#reserve(this.#scratchBytes),
    );
    const names = Object.keys(this.#exports).filter((n) => typeof this.#exports[n] === "function");
    this.#pool = await ThreadPool.create(
      this.module,
      this.memory,
      threads,
      ctl,
      names,
      (slot) => [["matmul_set_scratch", [scratch[slot]]]],
      this.#exports,
    );
  }

  /**
   * Runs kernel calls in parallel: calls[0] on this thread, calls[i] on worker i (at most
   * `threads` calls; each names an export of the module with its raw arguments, pointers as
   * bytes). Returns when all are done. Callers must give the calls disjoint outputs.
   */
  parallel(calls: readonly Call[]): void {
    this.#open("parallel");
    if (this.#pool && calls.length > 1) {
      this.#pool.run(calls);
      return;
    }
    for (const c of calls) (this.#exports[c.fn] as KernelFn)(...c.args);
  }

  /** A Float32Array over the whole memory, re-created after the memory grows. */
  get heap(): Float32Array<SharedArrayBuffer> {
    const buf = this.memory.buffer as unknown as SharedArrayBuffer;
    if (!this.#f32 || this.#f32.buffer !== buf) this.#f32 = new Float32Array(buf);
    return this.#f32;
  }

  /** A Uint16Array over the whole memory (f16 bits), re-created after the memory grows. */
  get heap16(): Uint16Array<SharedArrayBuffer> {
    const buf = this.memory.buffer as unknown as SharedArrayBuffer;
    if (!this.#u16 || this.#u16.buffer !== buf) this.#u16 = new Uint16Array(buf);
    return this.#u16;
  }

  alloc(length: number, dtype: DType = "f32"): DeviceBuffer {
    this.#open("alloc");
    checkAllocLength(length);
    const offset = this.#alloc.alloc(length * DTYPE_BYTES[dtype]);
    return new WasmBuffer(this.#nextId++, length, dtype, this, offset);
  }

  #own(buf: DeviceBuffer, what: string): WasmBuffer {
    return ownedBuffer(buf, WasmBuffer, this, what);
  }

  #open(what: string): void {
    checkNotDisposed(this.#disposed, this.name, what);
  }

  upload(buf: DeviceBuffer, data: Float32Array | Uint16Array, offset = 0): void {
    this.#open("upload");
    const b = this.#own(buf, "upload");
    recordUpload(b, data, offset, this.#transfers);
    if (b.dtype === "f32") {
      this.heap.set(data as Float32Array, b.byteOffset / 4 + offset);
    } else {
      const bits = data instanceof Float32Array ? toHalfBits(data) : data;
      this.heap16.set(bits, b.byteOffset / 2 + offset);
    }
  }

  // async: a refusal rejects the promise, as WebGPU's does.
  // deno-lint-ignore require-await
  async read(buf: DeviceBuffer, offset = 0, length = buf.length - offset): Promise<Float32Array> {
    this.#open("read");
    const b = this.#own(buf, "read");
    recordRead(b, offset, length, this.#transfers);
    if (b.dtype === "f16") {
      const start = b.byteOffset / 2 + offset;
      return fromHalfBits(this.heap16.slice(start, start + length));
    }
    const start = b.byteOffset / 4 + offset;
    return this.heap.slice(start, start + length);
  }

  /** Byte pointer of a binding, for kernels and the thread pool. */
  pointer(b: Binding): number {
    if (!isSlice(b)) return this.#own(b, "dispatch").byteOffset;
    const buf = this.#own(b.buffer, "dispatch") as WasmBuffer;
    return buf.byteOffset + b.offset * buf.bytesPer;
  }

  dispatch(name: string, buffers: readonly Binding[], params: KernelParams): void {
    this.#open(`kernel ${name}`);
    if (!this.#profiling) return this.#dispatch(name, buffers, params);
    const t0 = performance.now();
    this.#dispatch(name, buffers, params);
    this.#timed.push({ name, params: [...params], ms: performance.now() - t0 });
  }

  profileDispatches(on: boolean): void {
    this.#open("profileDispatches");
    this.#profiling = on;
  }

  // deno-lint-ignore require-await
  async takeDispatchTimes(): Promise<DispatchTime[]> {
    this.#open("takeDispatchTimes");
    const out = this.#timed;
    this.#timed = [];
    return out;
  }

  #dispatch(name: string, buffers: readonly Binding[], params: KernelParams): void {
    const spec = kernelSpec(name);
    validateDispatch(spec, this.name, buffers, params);
    const fn = this.#exports[name] as KernelFn | undefined;
    if (typeof fn !== "function") {
      throw new BackendError(`kernel ${name} is missing from build/kernels.wasm (rebuild?)`);
    }
    if (this.maxBindingElements < MAX_BYTES / 4) this.#checkBindings(name, buffers);
    const ptrs = buffers.map((b) => this.pointer(b));
    const variant = MATMUL_VARIANTS.get(name);
    if (variant !== undefined && this.#pool) {
      const [batch, m, n, k] = params;
      if (batch * m * n * k >= MIN_PARALLEL_MACS) {
        const ranges = splitMatmul(batch, m, n, this.#pool.threads);
        this.#pool.run(
          ranges.map((r) => ({ fn: "matmul_range", args: [variant, ...ptrs, ...params, ...r] })),
        );
        return;
      }
    }
    if (spec.pieces && this.#pool) {
      const calls = splitPieces(
        spec,
        ptrs,
        (i) => DTYPE_BYTES[(isSlice(buffers[i]) ? buffers[i].buffer : buffers[i]).dtype],
        params,
        this.#pool.threads,
        this.#minParallelElements,
      );
      if (calls) {
        this.#pool.run(calls.map((c) => ({ fn: name, args: [...c.ptrs, ...c.params] })));
        return;
      }
    }
    fn(...ptrs, ...params);
  }

  /** With a lowered binding limit, the checks WebGPU makes: size limit and slice alignment. */
  #checkBindings(name: string, buffers: readonly Binding[]): void {
    buffers.forEach((b, i) => {
      const buf = isSlice(b) ? b.buffer : b;
      const bytes = (isSlice(b) ? b.length : b.length) * DTYPE_BYTES[buf.dtype];
      if (bytes > this.maxBindingElements * 4) {
        throw new BackendError(
          `kernel ${name}: binding ${i} spans ${bytes} bytes, over the ` +
            `${this.maxBindingElements * 4}-byte binding limit; split the operation`,
        );
      }
      if (isSlice(b) && b.offset % sliceAlign(buf.dtype) !== 0) {
        throw new BackendError(
          `kernel ${name}: slice offset ${b.offset} is not ${
            sliceAlign(buf.dtype)
          }-element aligned`,
        );
      }
    });
  }

  copy(src: DeviceBuffer, srcOffset: number, dst: DeviceBuffer, dstOffset: number, n: number) {
    this.#open("copy");
    const s = this.#own(src, "copy"), d = this.#own(dst, "copy");
    checkRange(s, srcOffset, n, "copy");
    checkRange(d, dstOffset, n, "copy");
    if (s.dtype !== d.dtype) {
      throw new BackendError(`copy: buffer #${s.id} holds ${s.dtype}, #${d.id} ${d.dtype}`);
    }
    const heap = s.dtype === "f16" ? this.heap16 : this.heap;
    const per = s.bytesPer;
    const from = s.byteOffset / per + srcOffset;
    heap.copyWithin(d.byteOffset / per + dstOffset, from, from + n);
  }

  free(buf: DeviceBuffer): void {
    const b = this.#own(buf, "free");
    b.freed = true;
    this.#alloc.release(b.byteOffset);
  }

  // deno-lint-ignore require-await
  async sync(): Promise<void> {
    this.#open("sync");
  }

  transfers(): Transfers {
    return { ...this.#transfers };
  }

  allocatedBytes(): number {
    return this.#alloc.liveBytes - this.#reserved;
  }

  /** wasm32 memory: 4 GiB less the heap base, less what is allocated (another model counts). */
  limits(): DeviceLimits {
    this.#open("limits");
    return {
      freeBytes: MAX_BYTES - HEAP_BASE - this.allocatedBytes(),
      isHostMemory: true,
      maxBufferBytes: MAX_BYTES - HEAP_BASE,
    };
  }

  /** High-water mark of allocatedBytes() since the backend started or resetPeak(). */
  peakBytes(): number {
    return this.#alloc.peakBytes - this.#reserved;
  }

  resetPeak(): void {
    this.#alloc.resetPeak();
  }

  /**
   * Terminates the worker threads; settles once they have exited. Every later call but free() and
   * the counters throws (it used to go on computing on the calling thread alone).
   */
  dispose(): Promise<void> {
    this.#disposed = true;
    if (this.#pool) this.#released = this.#pool.dispose();
    this.#pool = null;
    return this.#released;
  }
}

let compiled: Promise<WebAssembly.Module> | null = null;

/** Compiles the kernels (build/kernels.wasm, from the engine's host) once per process. */
export function loadKernelModule(): Promise<WebAssembly.Module> {
  compiled ??= readyEngineHost().then((host) => host.kernelsWasm()).then(
    (bytes) => WebAssembly.compile(bytes),
    (e) => {
      throw new BackendError((e as Error).message);
    },
  );
  return compiled;
}

export async function createWasmBackend(opts: WasmOptions = {}): Promise<WasmBackend> {
  const min = opts.minParallelElements;
  if (min !== undefined && !(Number.isInteger(min) && min >= 1)) {
    throw new BackendError(`minParallelElements must be a positive integer, got ${min}`);
  }
  const module = await loadKernelModule();
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
  const backend = new WasmBackend(
    module,
    memory,
    opts.maxBindingBytes,
    opts.minParallelElements,
  );
  const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency : 1;
  await backend.startThreads(opts.threads ?? Math.max(1, cores || 1));
  return backend;
}
