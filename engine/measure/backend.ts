// The measuring backend: a Backend that holds no data. It counts what a computation allocates
// (live and peak bytes, every live buffer with the kernel that first wrote it and what that read)
// without storing
// or computing anything: upload and dispatch only check their arguments, reads return zeros.
// The memory planner runs the real model forward on it, so that its activation sizes are the
// forward's own allocations, not a second hand-written copy. Buffers are plain objects: a 7B
// layer costs a few hundred of them, never host memory per element.

import {
  type Backend,
  BackendError,
  type BackendName,
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
  type Transfers,
} from "../backend.ts";
import { kernelSpec } from "../kernels/index.ts";
import { bindingDtype, bindingLength, namedParams } from "../kernels/spec.ts";

/** A buffer of the measuring backend: its size and who first wrote it, no data. */
export class MeasuredBuffer implements DeviceBuffer {
  freed = false;
  /** The kernel that first wrote it ("upload", "copy"), or "" while nothing has. */
  writer = "";
  /** Ids of the buffers that kernel read. */
  sources: readonly number[] = [];
  constructor(
    readonly id: number,
    readonly length: number,
    readonly dtype: DType,
    readonly backend: MeasuringBackend,
    /** Bytes it counts for (rounded as the measured backend would). */
    readonly bytes: number,
  ) {}
}

export interface MeasuringOptions {
  /**
   * The backend it stands in for (default "wasm"): its name, so that code choosing by backend
   * sees the one being planned for.
   */
  as?: BackendName;
  /** Bytes an allocation of `bytes` counts for (default exact; WASM rounds to size classes). */
  roundBytes?: (bytes: number) => number;
  /**
   * Largest binding in f32 elements (default unbounded: nothing is split into chunks, whatever a
   * config claims; the plan checks the real limits itself).
   */
  maxBindingElements?: number;
}

export class MeasuringBackend implements Backend {
  readonly name: BackendName;
  readonly description: string;
  readonly maxBindingElements: number;
  readonly lost: Promise<string> = new Promise(() => {});
  readonly canProfile = false;
  readonly #round: (bytes: number) => number;
  /** Live buffers in creation order (a Map keeps insertion order). */
  readonly #live = new Map<number, MeasuredBuffer>();
  #nextId = 1;
  #liveBytes = 0;
  #peakBytes = 0;
  #largest: MeasuredBuffer | null = null;
  #transfers: Transfers = { uploads: 0, uploadBytes: 0, reads: 0, readBytes: 0 };
  #disposed = false;

  constructor(opts: MeasuringOptions = {}) {
    this.name = opts.as ?? "wasm";
    this.description = `measuring (as ${this.name}, no data)`;
    this.maxBindingElements = opts.maxBindingElements ?? Infinity;
    this.#round = opts.roundBytes ?? ((b) => b);
  }

  alloc(length: number, dtype: DType = "f32"): DeviceBuffer {
    this.#open("alloc");
    checkAllocLength(length);
    const bytes = this.#round(length * DTYPE_BYTES[dtype]);
    const buf = new MeasuredBuffer(this.#nextId++, length, dtype, this, bytes);
    this.#live.set(buf.id, buf);
    this.#liveBytes += bytes;
    this.#peakBytes = Math.max(this.#peakBytes, this.#liveBytes);
    if (!this.#largest || length * DTYPE_BYTES[dtype] > this.#largestBytes()) this.#largest = buf;
    return buf;
  }

  #own(buf: DeviceBuffer, what: string): MeasuredBuffer {
    return ownedBuffer(buf, MeasuredBuffer, this, what);
  }

  #open(what: string): void {
    checkNotDisposed(this.#disposed, this.name, what);
  }

  upload(buf: DeviceBuffer, data: Float32Array | Uint16Array, offset = 0): void {
    this.#open("upload");
    const b = this.#own(buf, "upload");
    recordUpload(b, data, offset, this.#transfers);
    b.writer ||= "upload";
  }

  // deno-lint-ignore require-await
  async read(buf: DeviceBuffer, offset = 0, length = buf.length - offset): Promise<Float32Array> {
    this.#open("read");
    const b = this.#own(buf, "read");
    recordRead(b, offset, length, this.#transfers);
    return new Float32Array(length);
  }

  /**
   * Checks what a real backend checks about the buffers (count, owner, liveness, dtype, sizes for
   * the params), but not the device's limits on params (u32): a config too large for any device
   * is measured, and refused by the plan's checks, not here.
   */
  dispatch(name: string, buffers: readonly Binding[], params: KernelParams): void {
    this.#open(`kernel ${name}`);
    const spec = kernelSpec(name);
    const names = [...spec.inputs, ...spec.outputs];
    if (buffers.length !== names.length || params.length !== spec.params.length) {
      throw new BackendError(
        `kernel ${name}: expected ${names.length} buffers and ${spec.params.length} params, ` +
          `got ${buffers.length} and ${params.length}`,
      );
    }
    const p = namedParams(spec, params);
    let need: readonly number[] | null = null;
    try {
      need = spec.sizes(p);
    } catch {
      // A kernel's own limit on its params (a head dim, a u32): the device's to refuse, not the
      // measurement's; the buffers are then not checked against the params.
    }
    const owned = buffers.map((b, i) => {
      const buf = this.#own(isSlice(b) ? b.buffer : b, "dispatch");
      if (buf.dtype !== bindingDtype(spec, names[i])) {
        throw new BackendError(
          `kernel ${name}: buffer ${names[i]} (#${buf.id}) holds ${buf.dtype}, the kernel ` +
            `reads ${bindingDtype(spec, names[i])}`,
        );
      }
      if (isSlice(b)) checkRange(buf, b.offset, b.length, `kernel ${name}: slice`);
      if (need && bindingLength(b) < need[i]) {
        throw new BackendError(
          `kernel ${name}: buffer ${names[i]} holds ${bindingLength(b)} elements, needs ${
            need[i]
          } for params ${JSON.stringify(p)}`,
        );
      }
      return buf;
    });
    const n = spec.inputs.length;
    for (const out of owned.slice(n)) {
      if (out.writer) continue;
      out.writer = name;
      out.sources = owned.slice(0, n).map((b) => b.id);
    }
  }

  copy(src: DeviceBuffer, srcOffset: number, dst: DeviceBuffer, dstOffset: number, n: number) {
    this.#open("copy");
    const s = this.#own(src, "copy"), d = this.#own(dst, "copy");
    checkRange(s, srcOffset, n, "copy");
    checkRange(d, dstOffset, n, "copy");
    if (s.dtype !== d.dtype) {
      throw new BackendError(`copy: buffer #${s.id} holds ${s.dtype}, #${d.id} ${d.dtype}`);
    }
    if (!d.writer) (d.writer = "copy", d.sources = [s.id]);
  }

  free(buf: DeviceBuffer): void {
    const b = this.#own(buf, "free");
    b.freed = true;
    this.#live.delete(b.id);
    this.#liveBytes -= b.bytes;
  }

  /** The buffers allocated and not freed, in creation order. */
  liveBuffers(): MeasuredBuffer[] {
    return [...this.#live.values()];
  }

  allocatedBytes(): number {
    return this.#liveBytes;
  }

  /** High-water mark of allocatedBytes() since the backend started or resetPeak(). */
  peakBytes(): number {
    return this.#peakBytes;
  }

  /**
   * The largest buffer (by its bytes in its dtype, unrounded; the first of equals) allocated since
   * the backend started or resetPeak(), freed or not; null when none was. Its writer names it once
   * a kernel has written it.
   */
  largestBuffer(): MeasuredBuffer | null {
    return this.#largest;
  }

  #largestBytes(): number {
    const b = this.#largest;
    return b ? b.length * DTYPE_BYTES[b.dtype] : 0;
  }

  /** Starts the high-water mark at what is live now, and the largest buffer afresh. */
  resetPeak(): void {
    this.#peakBytes = this.#liveBytes;
    this.#largest = null;
  }

  // deno-lint-ignore require-await
  async sync(): Promise<void> {
    this.#open("sync");
  }

  limits(): DeviceLimits {
    this.#open("limits");
    return { freeBytes: null, isHostMemory: false, maxBufferBytes: Number.MAX_SAFE_INTEGER };
  }

  profileDispatches(on: boolean): void {
    this.#open("profileDispatches");
    if (on) throw new BackendError(`${this.description}: dispatches run nothing to time`);
  }

  // deno-lint-ignore require-await
  async takeDispatchTimes(): Promise<DispatchTime[]> {
    this.#open("takeDispatchTimes");
    return [];
  }

  transfers(): Transfers {
    return { ...this.#transfers };
  }

  /** Nothing to release (no memory, no workers); later calls throw as a real backend's do. */
  dispose(): Promise<void> {
    this.#disposed = true;
    return Promise.resolve();
  }
}
