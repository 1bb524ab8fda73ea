// The WebGPU backend: kernels from engine/wgsl/*.wgsl, one compute pipeline per kernel with an
// explicit bind group layout. Dispatches are recorded into one command encoder and submitted
// together when the host needs a result (read, sync) or the batch grows large; each GPU round
// trip costs ~11 ms in Deno, so reads should be rare. On an adapter with timestamp-query, the
// GPU time of every dispatch can be recorded (profileDispatches, takeDispatchTimes): each then
// runs in its own compute pass with timestamps at its start and end.

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
  SLICE_ALIGN_BYTES,
  type Transfers,
} from "../backend.ts";
import { fromHalfBits, toHalfBits } from "../half.ts";
import { kernelSpec } from "../kernels/index.ts";
import { type KernelSpec, validateDispatch } from "../kernels/spec.ts";
import { hasHalfInput, wgslSource } from "./wgsl.ts";
import { readyEngineHost } from "../host.ts";

/** Bytes per uniform slot (minUniformBufferOffsetAlignment is at most 256). */
const UNIFORM_SLOT = 256;
/** Dispatches recorded before the encoder is submitted. */
const MAX_BATCH = 512;
/** Dispatches timed per query set (two timestamps each). */
const QUERY_PAIRS = 1024;

/** Timestamps of a run of dispatches: being recorded (staging null) or resolved for reading. */
interface TimedRun {
  querySet: GPUQuerySet;
  dispatches: { name: string; params: readonly number[] }[];
  resolve: GPUBuffer | null;
  staging: GPUBuffer | null;
}

class GpuBuffer implements DeviceBuffer {
  freed = false;
  constructor(
    readonly id: number,
    readonly length: number,
    readonly dtype: DType,
    readonly backend: WebGpuBackend,
    readonly gpu: GPUBuffer,
  ) {}

  get bytesPer(): number {
    return DTYPE_BYTES[this.dtype];
  }
}

/** Bytes a binding or transfer of `n` elements of `bytesPer` bytes spans (multiple of 4). */
function wordBytes(n: number, bytesPer: number): number {
  return Math.ceil(n * bytesPer / 4) * 4;
}

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

export interface WebGpuOptions {
  /** Accept a software (fallback) adapter such as lavapipe. Default true. */
  allowFallback?: boolean;
  /** Lower the per-binding limit (bytes), to test chunking of large weights. */
  maxBindingBytes?: number;
  /**
   * How f16 weights are read: "native" (array<f16>, the adapter's shader-f16 feature), "packed"
   * (pairs in u32 words, any adapter), or "auto" (default): native when the adapter has it.
   */
  halfReads?: "auto" | "native" | "packed";
}

export class WebGpuBackend implements Backend {
  readonly name = "webgpu" as const;
  readonly description: string;
  readonly maxBindingElements: number;
  readonly isFallback: boolean;
  readonly device: GPUDevice;
  /** f16 weights are read as array<f16> (shader-f16), not packed words (engine/webgpu/wgsl.ts). */
  readonly nativeHalf: boolean;
  #pipelines = new Map<string, Pipeline>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #batch = 0;
  #uniformHost = new ArrayBuffer(UNIFORM_SLOT * MAX_BATCH);
  #uniform: GPUBuffer;
  #pendingDestroy: GPUBuffer[] = [];
  #nextId = 1;
  #live = 0;
  #lost: string | null = null;
  #released: Promise<void> | null = null;
  /** The first error no error scope caught (a kernel that did not compile, a bad binding...). */
  #error: string | null = null;
  /** Whether dispatches are being timed, the run being recorded, the runs awaiting reading. */
  #profiling = false;
  #transfers: Transfers = { uploads: 0, uploadBytes: 0, reads: 0, readBytes: 0 };
  #timing: TimedRun | null = null;
  #timed: TimedRun[] = [];
  /** The device has the timestamp-query feature. */
  readonly canProfile: boolean;
  readonly lost: Promise<string>;

  constructor(
    device: GPUDevice,
    info: GPUAdapterInfo,
    isFallback: boolean,
    maxBinding: number,
    nativeHalf: boolean,
  ) {
    this.device = device;
    this.canProfile = device.features.has("timestamp-query");
    this.isFallback = isFallback;
    this.nativeHalf = nativeHalf;
    this.maxBindingElements = Math.floor(maxBinding / 4);
    this.description = `WebGPU ${info.description || info.vendor}${
      isFallback ? " (fallback)" : ""
    }${nativeHalf ? ", shader-f16" : ""}`;
    this.#uniform = device.createBuffer({
      size: UNIFORM_SLOT * MAX_BATCH,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.lost = device.lost.then((info) => {
      this.#lost = info.message || info.reason || "lost";
      return this.#lost;
    });
    // A command that fails validation is skipped and leaves its outputs as they were; the error
    // arrives only as this event, so it is kept and thrown by the next call or read.
    device.addEventListener("uncapturederror", (e) => {
      this.#error ??= (e as GPUUncapturedErrorEvent).error.message;
    });
  }

  /** Refuses `what` once dispose() was called, whatever the device says since. */
  #open(what: string): void {
    checkNotDisposed(this.#released !== null, this.name, what);
  }

  #checkAlive(what: string): void {
    this.#open(what);
    if (this.#lost !== null) throw new BackendError(`WebGPU device lost: ${this.#lost}`);
    if (this.#error !== null) throw new BackendError(`WebGPU error: ${this.#error}`);
  }

  alloc(length: number, dtype: DType = "f32"): DeviceBuffer {
    this.#checkAlive("alloc");
    checkAllocLength(length);
    const size = Math.max(16, Math.ceil(length * DTYPE_BYTES[dtype] / 16) * 16);
    const gpu = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.#live += size;
    return new GpuBuffer(this.#nextId++, length, dtype, this, gpu);
  }

  #own(buf: DeviceBuffer, what: string): GpuBuffer {
    return ownedBuffer(buf, GpuBuffer, this, what);
  }

  /**
   * WebGPU moves whole 4-byte words: an f16 range must start at an even element and end at an
   * even one or at the buffer's end (whose padding half then goes along).
   */
  #words(b: GpuBuffer, offset: number, length: number, what: string): void {
    if (
      b.dtype === "f16" && (offset % 2 !== 0 || (length % 2 !== 0 && offset + length < b.length))
    ) {
      throw new BackendError(
        `${what}: f16 range [${offset}, ${offset + length}) of buffer #${b.id} is not word ` +
          `aligned (WebGPU copies 4-byte words: even offsets, even lengths except at the end)`,
      );
    }
  }

  upload(buf: DeviceBuffer, data: Float32Array | Uint16Array, offset = 0): void {
    this.#open("upload");
    const b = this.#own(buf, "upload");
    recordUpload(b, data, offset, this.#transfers);
    let bytes: Uint8Array;
    if (b.dtype === "f32") {
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      this.#words(b, offset, data.length, "upload");
      const bits = new Uint16Array(data.length + (data.length % 2));
      bits.set(data instanceof Float32Array ? toHalfBits(data) : data);
      bytes = new Uint8Array(bits.buffer);
    }
    // Queued dispatches that read the old contents must run first.
    this.#flush();
    if (data.length === 0) return;
    this.device.queue.writeBuffer(
      b.gpu,
      offset * b.bytesPer,
      bytes.buffer as ArrayBuffer,
      bytes.byteOffset,
      bytes.byteLength,
    );
  }

  async read(buf: DeviceBuffer, offset = 0, length = buf.length - offset): Promise<Float32Array> {
    this.#open("read");
    const b = this.#own(buf, "read");
    recordRead(b, offset, length, this.#transfers);
    if (length === 0) return new Float32Array(0);
    // Whole words: an f16 read starting at an odd element takes the half before it along, and
    // one ending at an odd element the half after it (inside the 16-byte rounded allocation).
    const first = offset - (offset * b.bytesPer % 4) / b.bytesPer;
    const size = wordBytes(offset + length - first, b.bytesPer);
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#endPass();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(b.gpu, first * b.bytesPer, staging, 0, size);
    this.#flush();
    // A read under way when the backend is disposed fails as the next call would.
    await staging.mapAsync(GPUMapMode.READ).catch((e) => {
      this.#checkAlive("read");
      throw e;
    });
    this.#checkAlive("read");
    const raw = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    if (b.dtype === "f32") return new Float32Array(raw);
    return fromHalfBits(new Uint16Array(raw, (offset - first) * 2, length));
  }

  #pipeline(spec: KernelSpec): Pipeline {
    let p = this.#pipelines.get(spec.name);
    if (p) return p;
    const file = `${spec.source ?? spec.name}.wgsl`;
    // An _f16 variant of a kernel with a half input reads native halves when the device can;
    // its <NAME>_HALF override then does not exist.
    const halfFlags = Object.keys(spec.constants ?? {}).filter((k) => k.endsWith("_HALF"));
    const native = this.nativeHalf && halfFlags.length > 0 && hasHalfInput(file);
    const code = wgslSource(file, native);
    const constants = native
      ? Object.fromEntries(
        Object.entries(spec.constants!).filter(([k]) => !halfFlags.includes(k)),
      )
      : spec.constants;
    const entries: GPUBindGroupLayoutEntry[] = [
      ...spec.inputs.map((_, i) => ({
        binding: i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "read-only-storage" as const },
      })),
      ...spec.outputs.map((_, i) => ({
        binding: spec.inputs.length + i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "storage" as const },
      })),
      {
        binding: spec.inputs.length + spec.outputs.length,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform" as const },
      },
    ];
    const layout = this.device.createBindGroupLayout({ label: spec.name, entries });
    const module = this.device.createShaderModule({ label: spec.name, code });
    const pipeline = this.device.createComputePipeline({
      label: spec.name,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main", constants },
    });
    p = { pipeline, layout };
    this.#pipelines.set(spec.name, p);
    return p;
  }

  dispatch(name: string, buffers: readonly Binding[], params: KernelParams): void {
    this.#checkAlive(`kernel ${name}`);
    const spec = kernelSpec(name);
    const named = validateDispatch(spec, this.name, buffers, params);
    const [gx, gy, gz] = spec.grid(named);
    if (gx * gy * gz === 0) return;
    const { pipeline, layout } = this.#pipeline(spec);
    if (this.#batch === MAX_BATCH) this.#flush();
    const slot = this.#batch++;
    const u32 = new Uint32Array(this.#uniformHost, slot * UNIFORM_SLOT, UNIFORM_SLOT / 4);
    const f32 = new Float32Array(this.#uniformHost, slot * UNIFORM_SLOT, UNIFORM_SLOT / 4);
    spec.params.forEach(([, t], i) => t === "u32" ? u32[i] = params[i] : f32[i] = params[i]);
    const entries: GPUBindGroupEntry[] = buffers.map((b, i) => {
      const gb = this.#own(isSlice(b) ? b.buffer : b, "dispatch");
      const offset = isSlice(b) ? b.offset * gb.bytesPer : 0;
      if (offset % SLICE_ALIGN_BYTES !== 0) {
        throw new BackendError(
          `kernel ${name}: slice offset ${
            isSlice(b) ? b.offset : 0
          } of buffer #${gb.id} is not ${SLICE_ALIGN_BYTES}-byte aligned`,
        );
      }
      const bytes = Math.max(4, wordBytes(isSlice(b) ? b.length : gb.length, gb.bytesPer));
      if (bytes > this.maxBindingElements * 4) {
        throw new BackendError(
          `kernel ${name}: binding ${i} spans ${bytes} bytes, over this device's ` +
            `${this.maxBindingElements * 4}-byte binding limit; split the operation`,
        );
      }
      return { binding: i, resource: { buffer: gb.gpu, offset, size: bytes } };
    });
    entries.push({
      binding: buffers.length,
      resource: { buffer: this.#uniform, offset: slot * UNIFORM_SLOT, size: UNIFORM_SLOT },
    });
    const group = this.device.createBindGroup({ layout, entries });
    this.#encoder ??= this.device.createCommandEncoder();
    if (this.#profiling) {
      this.#timedDispatch(name, params, pipeline, group, gx, gy, gz);
      return;
    }
    this.#pass ??= this.#encoder.beginComputePass();
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, group);
    this.#pass.dispatchWorkgroups(gx, gy, gz);
  }

  /** One dispatch in its own pass, with timestamps written at the pass's start and end. */
  #timedDispatch(
    name: string,
    params: KernelParams,
    pipeline: GPUComputePipeline,
    group: GPUBindGroup,
    gx: number,
    gy: number,
    gz: number,
  ): void {
    this.#endPass();
    const run = this.#timing ??= {
      querySet: this.device.createQuerySet({ type: "timestamp", count: 2 * QUERY_PAIRS }),
      dispatches: [],
      resolve: null,
      staging: null,
    };
    const i = run.dispatches.length;
    run.dispatches.push({ name, params: [...params] });
    const pass = this.#encoder!.beginComputePass({
      timestampWrites: {
        querySet: run.querySet,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      },
    });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(gx, gy, gz);
    pass.end();
    if (run.dispatches.length === QUERY_PAIRS) this.#resolveTiming();
  }

  /** Records the copy of the current run's timestamps into a readable buffer. */
  #resolveTiming(): void {
    const run = this.#timing;
    if (!run) return;
    this.#timing = null;
    const bytes = run.dispatches.length * 16;
    run.resolve = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    run.staging = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#endPass();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.resolveQuerySet(run.querySet, 0, 2 * run.dispatches.length, run.resolve, 0);
    this.#encoder.copyBufferToBuffer(run.resolve, 0, run.staging, 0, bytes);
    this.#timed.push(run);
  }

  /**
   * Starts or stops timing each dispatch on the GPU (needs timestamp-query: canProfile). Timed
   * dispatches run one pass each, so the work is slower while it is on.
   */
  profileDispatches(on: boolean): void {
    this.#open("profileDispatches");
    if (on && !this.canProfile) {
      throw new BackendError(`WebGPU: ${this.description} has no timestamp-query feature`);
    }
    if (!on) this.#resolveTiming();
    this.#profiling = on;
  }

  /** The GPU time of every dispatch timed since the last call, in dispatch order. */
  async takeDispatchTimes(): Promise<DispatchTime[]> {
    this.#open("takeDispatchTimes");
    this.#flush();
    const runs = this.#timed;
    this.#timed = [];
    const out: DispatchTime[] = [];
    for (const run of runs) {
      await run.staging!.mapAsync(GPUMapMode.READ);
      this.#checkAlive("takeDispatchTimes");
      const ns = new BigInt64Array(run.staging!.getMappedRange());
      run.dispatches.forEach((d, i) => {
        // A timestamp may be 0 where the driver wrote none; such a dispatch counts 0 ms.
        const t = ns[2 * i + 1] > ns[2 * i] ? Number(ns[2 * i + 1] - ns[2 * i]) : 0;
        out.push({ ...d, ms: t / 1e6 });
      });
      run.staging!.unmap();
      for (const b of [run.staging!, run.resolve!]) b.destroy();
      run.querySet.destroy();
    }
    return out;
  }

  copy(src: DeviceBuffer, srcOffset: number, dst: DeviceBuffer, dstOffset: number, n: number) {
    this.#open("copy");
    const s = this.#own(src, "copy"), d = this.#own(dst, "copy");
    checkRange(s, srcOffset, n, "copy");
    checkRange(d, dstOffset, n, "copy");
    if (s.dtype !== d.dtype) {
      throw new BackendError(`copy: buffer #${s.id} holds ${s.dtype}, #${d.id} ${d.dtype}`);
    }
    this.#words(s, srcOffset, n, "copy");
    this.#words(d, dstOffset, n, "copy");
    if (n === 0) return;
    this.#endPass();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(
      s.gpu,
      srcOffset * s.bytesPer,
      d.gpu,
      dstOffset * d.bytesPer,
      wordBytes(n, s.bytesPer),
    );
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  /** Submit everything recorded so far, with the uniforms it uses. */
  #flush(): void {
    this.#resolveTiming();
    this.#endPass();
    if (this.#encoder) {
      if (this.#batch > 0) {
        this.device.queue.writeBuffer(
          this.#uniform,
          0,
          this.#uniformHost,
          0,
          this.#batch * UNIFORM_SLOT,
        );
      }
      this.device.queue.submit([this.#encoder.finish()]);
      this.#encoder = null;
      this.#batch = 0;
    }
    for (const b of this.#pendingDestroy) b.destroy();
    this.#pendingDestroy = [];
  }

  free(buf: DeviceBuffer): void {
    const b = this.#own(buf, "free");
    b.freed = true;
    this.#live -= b.gpu.size;
    // Recorded but unsubmitted work may still use it; destroy after the next submit.
    if (this.#encoder) this.#pendingDestroy.push(b.gpu);
    else b.gpu.destroy();
  }

  async sync(): Promise<void> {
    this.#open("sync");
    this.#flush();
    await this.device.queue.onSubmittedWorkDone();
    this.#checkAlive("sync");
  }

  transfers(): Transfers {
    return { ...this.#transfers };
  }

  allocatedBytes(): number {
    return this.#live;
  }

  /** WebGPU does not report free memory; a fallback adapter's memory is the host's. */
  limits(): DeviceLimits {
    this.#open("limits");
    return {
      freeBytes: null,
      isHostMemory: this.isFallback,
      maxBufferBytes: this.device.limits.maxBufferSize,
    };
  }

  /**
   * Destroys the device (after submitting recorded work); settles once the device is lost. Every
   * later call but free() and the counters throws that the backend was disposed (it used to say
   * nothing until a read failed with the device's "validation error occurred").
   */
  dispose(): Promise<void> {
    if (!this.#released) {
      this.#released = this.lost.then(() => {});
      try {
        this.#flush();
      } finally {
        this.#uniform.destroy();
        this.device.destroy();
      }
    }
    return this.#released;
  }
}

/** Requests an adapter; null when WebGPU is absent or only a refused fallback exists. */
export async function requestAdapter(allowFallback = true): Promise<GPUAdapter | null> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) return null;
  (await readyEngineHost()).prepareWebGpu();
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return null;
  if (!allowFallback && adapter.info.isFallbackAdapter) return null;
  return adapter;
}

export async function createWebGpuBackend(opts: WebGpuOptions = {}): Promise<WebGpuBackend | null> {
  const adapter = await requestAdapter(opts.allowFallback ?? true);
  if (!adapter) return null;
  const lim = adapter.limits;
  const hasF16 = adapter.features.has("shader-f16");
  const halfReads = opts.halfReads ?? "auto";
  if (halfReads === "native" && !hasF16) {
    throw new BackendError(`WebGPU: ${adapter.info.description} has no shader-f16 feature`);
  }
  const nativeHalf = halfReads === "native" || (halfReads === "auto" && hasF16);
  const device = await adapter.requestDevice({
    requiredFeatures: [
      ...(nativeHalf ? ["shader-f16" as const] : []),
      // Costs nothing until profileDispatches turns timing on.
      ...(adapter.features.has("timestamp-query") ? ["timestamp-query" as const] : []),
    ],
    requiredLimits: {
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
      maxStorageBuffersPerShaderStage: lim.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: lim.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: lim.maxComputeWorkgroupSizeY,
    },
  });
  const maxBinding = Math.min(
    lim.maxStorageBufferBindingSize,
    opts.maxBindingBytes ?? Infinity,
  );
  return new WebGpuBackend(
    device,
    adapter.info,
    adapter.info.isFallbackAdapter,
    maxBinding,
    nativeHalf,
  );
}
