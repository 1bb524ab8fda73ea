// The WASM backend: kernels compiled from engine/assembly/ (SIMD, relaxed SIMD) running on a
// shared WebAssembly.Memory. All buffers live in that one memory; dispatch is synchronous.

import {
  type Backend,
  BackendError,
  type Binding,
  type DeviceBuffer,
  isSlice,
  type KernelParams,
} from "../backend.ts";
import { kernelSpec } from "../kernels/index.ts";
import { validateDispatch } from "../kernels/spec.ts";
import { LinearAllocator, MAX_BYTES } from "./allocator.ts";

const WASM_URL = new URL("../../build/kernels.wasm", import.meta.url);

class WasmBuffer implements DeviceBuffer {
  freed = false;
  constructor(
    readonly id: number,
    readonly length: number,
    readonly backend: WasmBackend,
    readonly byteOffset: number,
  ) {}
}

type KernelFn = (...args: number[]) => void;

export class WasmBackend implements Backend {
  readonly name = "wasm" as const;
  readonly maxBindingElements = MAX_BYTES / 4;
  readonly description: string;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly #exports: Record<string, unknown>;
  readonly #alloc: LinearAllocator;
  #nextId = 1;
  #f32: Float32Array<SharedArrayBuffer> | null = null;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory) {
    this.module = module;
    this.memory = memory;
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    this.#exports = instance.exports as Record<string, unknown>;
    this.#alloc = new LinearAllocator(memory);
    this.description = "WebAssembly SIMD (1 thread)";
  }

  /** A Float32Array over the whole memory, re-created after the memory grows. */
  get heap(): Float32Array<SharedArrayBuffer> {
    const buf = this.memory.buffer as SharedArrayBuffer;
    if (!this.#f32 || this.#f32.buffer !== buf) this.#f32 = new Float32Array(buf);
    return this.#f32;
  }

  alloc(length: number): DeviceBuffer {
    if (!Number.isInteger(length) || length < 0) {
      throw new BackendError(`alloc: length must be a non-negative integer, got ${length}`);
    }
    const offset = this.#alloc.alloc(length * 4);
    return new WasmBuffer(this.#nextId++, length, this, offset);
  }

  #own(buf: DeviceBuffer, what: string): WasmBuffer {
    if (!(buf instanceof WasmBuffer) || buf.backend !== this) {
      throw new BackendError(`${what}: buffer #${buf.id} belongs to the ${buf.backend.name} backend`);
    }
    if (buf.freed) throw new BackendError(`${what}: buffer #${buf.id} was freed`);
    return buf;
  }

  #range(buf: DeviceBuffer, offset: number, length: number, what: string): void {
    if (
      !Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 ||
      offset + length > buf.length
    ) {
      throw new BackendError(
        `${what}: range [${offset}, ${offset + length}) outside buffer #${buf.id} of ${buf.length}`,
      );
    }
  }

  upload(buf: DeviceBuffer, data: Float32Array, offset = 0): void {
    const b = this.#own(buf, "upload");
    this.#range(b, offset, data.length, "upload");
    this.heap.set(data, b.byteOffset / 4 + offset);
  }

  read(buf: DeviceBuffer, offset = 0, length = buf.length - offset): Promise<Float32Array> {
    const b = this.#own(buf, "read");
    this.#range(b, offset, length, "read");
    const start = b.byteOffset / 4 + offset;
    return Promise.resolve(this.heap.slice(start, start + length));
  }

  /** Byte pointer of a binding, for kernels and the thread pool. */
  pointer(b: Binding): number {
    return isSlice(b)
      ? (this.#own(b.buffer, "dispatch") as WasmBuffer).byteOffset + b.offset * 4
      : this.#own(b, "dispatch").byteOffset;
  }

  dispatch(name: string, buffers: readonly Binding[], params: KernelParams): void {
    const spec = kernelSpec(name);
    validateDispatch(spec, this.name, buffers, params);
    const fn = this.#exports[name] as KernelFn | undefined;
    if (typeof fn !== "function") {
      throw new BackendError(`kernel ${name} is missing from build/kernels.wasm (rebuild?)`);
    }
    fn(...buffers.map((b) => this.pointer(b)), ...params);
  }

  copy(src: DeviceBuffer, srcOffset: number, dst: DeviceBuffer, dstOffset: number, n: number) {
    const s = this.#own(src, "copy"), d = this.#own(dst, "copy");
    this.#range(s, srcOffset, n, "copy");
    this.#range(d, dstOffset, n, "copy");
    const from = s.byteOffset / 4 + srcOffset;
    this.heap.copyWithin(d.byteOffset / 4 + dstOffset, from, from + n);
  }

  free(buf: DeviceBuffer): void {
    const b = this.#own(buf, "free");
    b.freed = true;
    this.#alloc.release(b.byteOffset, b.length * 4);
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  allocatedBytes(): number {
    return this.#alloc.liveBytes;
  }

  dispose(): void {}
}

let compiled: Promise<WebAssembly.Module> | null = null;

/** Compiles build/kernels.wasm once per process. */
export function loadKernelModule(): Promise<WebAssembly.Module> {
  compiled ??= Deno.readFile(WASM_URL).then(
    (bytes) => WebAssembly.compile(bytes),
    (e) => {
      throw new BackendError(
        `cannot read ${WASM_URL.pathname} (${e.message}); run \`deno task build:wasm\``,
      );
    },
  );
  return compiled;
}

export async function createWasmBackend(): Promise<WasmBackend> {
  const module = await loadKernelModule();
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
  return new WasmBackend(module, memory);
}
