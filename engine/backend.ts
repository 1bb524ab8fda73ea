// The one backend interface every compute backend implements (a connector, as in jax-js):
// allocate device buffers of f32 (or f16 for stored weights), upload host data, dispatch a named
// kernel, read back, free. Everything above engine/ (tensors, autograd, models, KNE) is written
// once against this.

/** The backends createBackend makes. */
export type BackendName = "wasm" | "webgpu";

/**
 * Element type of a buffer. Arithmetic is f32 everywhere; f16 buffers hold weights at half the
 * bytes, read by the kernels that declare an f16 binding (engine/kernels/f16.ts).
 */
export type DType = "f32" | "f16";

export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, f16: 2 };

/** Slices must start on this many bytes (WebGPU's minStorageBufferOffsetAlignment at most). */
export const SLICE_ALIGN_BYTES = 256;

/** Elements a slice offset of a `dtype` buffer must be a multiple of (64 for f32, 128 for f16). */
export function sliceAlign(dtype: DType): number {
  return SLICE_ALIGN_BYTES / DTYPE_BYTES[dtype];
}

/** A device allocation of `length` elements of `dtype`, owned by exactly one backend. */
export interface DeviceBuffer {
  /** Number of the buffer within its backend (1, 2, ... in allocation order), for messages. */
  readonly id: number;
  /** Size in elements of `dtype` (not bytes). */
  readonly length: number;
  /** Element type the buffer stores. */
  readonly dtype: DType;
  /** The backend that allocated it; only that backend may bind, read or free it. */
  readonly backend: Backend;
  /** Whether free() has released it; any later use throws BackendError. */
  readonly freed: boolean;
}

/**
 * A window of a buffer, for binding part of a weight larger than one binding may address.
 * `offset` must be a multiple of sliceAlign(dtype) elements (256 bytes, as WebGPU needs).
 */
export interface BufferSlice {
  /** The buffer the window is of. */
  readonly buffer: DeviceBuffer;
  /** First element of the window, in elements of the buffer's dtype. */
  readonly offset: number;
  /** Elements in the window. */
  readonly length: number;
}

/** What a kernel binding accepts: a whole buffer or a slice of one. */
export type Binding = DeviceBuffer | BufferSlice;

export function isSlice(b: Binding): b is BufferSlice {
  return "buffer" in b;
}

/**
 * Kernel parameters: scalars passed by value, in the order the kernel's spec declares them.
 * Integers are u32/i32, floats are f32 (see KernelSpec.params).
 */
export type KernelParams = readonly number[];

/** What a device can hold, as far as it can be known without allocating. */
export interface DeviceLimits {
  /** Bytes still free for new buffers, or null where the device does not say (WebGPU). */
  freeBytes: number | null;
  /** Device memory is system memory (WASM, and CPU fallback adapters such as lavapipe). */
  isHostMemory: boolean;
  /** Largest buffer the device may create, in bytes. */
  maxBufferBytes: number;
}

/** The time of one dispatch (Backend.takeDispatchTimes). */
export interface DispatchTime {
  /** The kernel dispatched. */
  name: string;
  /** Its scalar parameters, as passed to dispatch(). */
  params: readonly number[];
  /** Milliseconds it took (0 where the GPU wrote no timestamp). */
  ms: number;
}

/** Host <-> device copies since the backend started (Backend.transfers). */
export interface Transfers {
  /** Calls of upload(). */
  uploads: number;
  /** Bytes written by them, in the buffers' dtype (2 per element into an f16 buffer). */
  uploadBytes: number;
  /** Calls of read(). */
  reads: number;
  /** Bytes read by them, in the buffers' dtype (an f16 buffer's 2 per element, not the f32's 4). */
  readBytes: number;
}

/**
 * A compute device (createBackend): WASM threads on the CPU or a WebGPU adapter. Models live on
 * one; dispose() releases it when done.
 */
export interface Backend {
  /** Which kind of backend this is. */
  readonly name: BackendName;
  /** Human readable description of the device (adapter name, thread count...). */
  readonly description: string;
  /** Largest buffer (in f32 elements) one kernel binding may address on this device. */
  readonly maxBindingElements: number;
  /** Allocate an uninitialised buffer of `length` elements of `dtype` (default f32). */
  alloc(length: number, dtype?: DType): DeviceBuffer;
  /**
   * Copy host data into `buf` starting at element `offset`. An f16 buffer takes f32 values
   * (rounded to nearest even) or raw f16 bits as a Uint16Array; an f32 buffer takes f32 values.
   */
  upload(buf: DeviceBuffer, data: Float32Array | Uint16Array, offset?: number): void;
  /**
   * Read `length` elements starting at `offset` back to the host as f32 (f16 widens exactly;
   * flushes queued work).
   */
  read(buf: DeviceBuffer, offset?: number, length?: number): Promise<Float32Array>;
  /**
   * Queue the kernel `name` over `buffers` (its inputs, then its outputs, as the spec orders
   * them) with scalar `params`. Validates ownership, liveness and sizes before queueing.
   */
  dispatch(name: string, buffers: readonly Binding[], params: KernelParams): void;
  /** Copy `length` elements between buffers of this backend and dtype (queued like a kernel). */
  copy(
    src: DeviceBuffer,
    srcOffset: number,
    dst: DeviceBuffer,
    dstOffset: number,
    length: number,
  ): void;
  /** Release a buffer; any later use throws. */
  free(buf: DeviceBuffer): void;
  /** Wait for all queued work. */
  sync(): Promise<void>;
  /** Bytes currently allocated through alloc() and not freed. */
  allocatedBytes(): number;
  /** The device's limits now (free bytes count what is allocated). */
  limits(): DeviceLimits;
  /**
   * Resolves with the reason when the device is lost (a WebGPU device can be; a WASM one never
   * is), after which every call throws BackendError.
   */
  readonly lost: Promise<string>;
  /** Whether dispatches can be timed (WebGPU needs the timestamp-query feature). */
  readonly canProfile: boolean;
  /**
   * Starts or stops timing every dispatch (WASM: the wall time of each synchronous dispatch;
   * WebGPU: GPU timestamps, one pass per dispatch, so the work is slower while it is on).
   * Throws BackendError when the device cannot time dispatches.
   */
  profileDispatches(on: boolean): void;
  /** The time of every dispatch timed since the last call, in dispatch order. */
  takeDispatchTimes(): Promise<DispatchTime[]>;
  /** Host <-> device copies (upload, read) since the backend started: counts and bytes. */
  transfers(): Transfers;
  /**
   * Releases the device, workers and memory now. The promise settles once they are gone (worker
   * threads exited, device lost): a process about to exit awaits it, so that no thread is still
   * tearing down while the process runs its exit handlers. Idempotent. From the call on, every
   * other call throws a BackendError saying the backend was disposed (checkNotDisposed), except
   * free(), allocatedBytes() and transfers(), so that cleanup may run in any order.
   */
  dispose(): Promise<void>;
}

/** A backend, device, kernel or tensor operation refused its arguments or failed. */
export class BackendError extends Error {
  /** "BackendError", which String(error) and the stack print before the message. */
  override name = "BackendError";
}

/**
 * Refuses call `what` on a backend named `name` once it is disposed (`disposed`): every backend's
 * check, so that a disposed WASM backend does not go on computing on the calling thread and a
 * disposed WebGPU one does not fail later with the device's own words.
 */
export function checkNotDisposed(disposed: boolean, name: BackendName, what: string): void {
  if (disposed) {
    throw new BackendError(
      `${what}: the ${name} backend was disposed (dispose() released it); create another one`,
    );
  }
}

/**
 * `buf` as one of `owner`'s live buffers (of its buffer class `kind`), else a BackendError that
 * names `what`: the ownership check every backend makes before touching a buffer.
 */
export function ownedBuffer<T extends DeviceBuffer>(
  buf: DeviceBuffer,
  kind: abstract new (...args: never[]) => T,
  owner: Backend,
  what: string,
): T {
  if (!(buf instanceof kind) || buf.backend !== owner) {
    throw new BackendError(`${what}: buffer #${buf.id} belongs to the ${buf.backend.name} backend`);
  }
  if (buf.freed) throw new BackendError(`${what}: buffer #${buf.id} was freed`);
  return buf;
}

/** Refuses a buffer length that is not a non-negative integer: the check of every alloc. */
export function checkAllocLength(length: number): void {
  if (!Number.isInteger(length) || length < 0) {
    throw new BackendError(`alloc: length must be a non-negative integer, got ${length}`);
  }
}

/**
 * The checks every backend makes before writing `data` at element `offset` of `buf` (the range;
 * f16 bits only into an f16 buffer), then the upload counted in `transfers`.
 */
export function recordUpload(
  buf: DeviceBuffer,
  data: Float32Array | Uint16Array,
  offset: number,
  transfers: Transfers,
): void {
  checkRange(buf, offset, data.length, "upload");
  if (buf.dtype === "f32" && !(data instanceof Float32Array)) {
    throw new BackendError(`upload: buffer #${buf.id} holds f32, got f16 bits`);
  }
  transfers.uploads++;
  transfers.uploadBytes += data.length * DTYPE_BYTES[buf.dtype];
}

/** The range check of a read of `length` elements at `offset` of `buf`, then its count. */
export function recordRead(
  buf: DeviceBuffer,
  offset: number,
  length: number,
  transfers: Transfers,
): void {
  checkRange(buf, offset, length, "read");
  transfers.reads++;
  transfers.readBytes += length * DTYPE_BYTES[buf.dtype];
}

/** Refuses an element range [offset, offset + length) that is not inside `buf`. */
export function checkRange(buf: DeviceBuffer, offset: number, length: number, what: string): void {
  if (
    !Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 ||
    offset + length > buf.length
  ) {
    throw new BackendError(
      `${what}: range [${offset}, ${offset + length}) outside buffer #${buf.id} of ${buf.length}`,
    );
  }
}
