// Whether a memory plan (./plan.ts) fits a backend and the machine: the live backend's limits,
// the reasons a plan does not fit, and the fastest plan that does (layer groups for attribution,
// checkpointed layers).

import { type Backend, type BackendName, DTYPE_BYTES } from "../../engine/backend.ts";
import { engineHost } from "../../engine/host.ts";
import { sizeClass } from "../../engine/wasm/allocator.ts";
import type { ModelConfig } from "../model/config.ts";
import type { TensorSize } from "./activations.ts";
import { type MemoryPlan, planMemory, type PlanOptions } from "./plan.ts";

/** What a backend and its host can hold, for a plan to fit. */
export interface BackendLimits {
  /** Which kind of backend the limits are of. */
  backend: BackendName;
  /**
   * Device bytes still free (WASM: the wasm32 ceiling less what is allocated); null where the
   * API does not say (WebGPU).
   */
  deviceBytes: number | null;
  /** Device memory is system memory (WASM, and CPU fallback adapters such as lavapipe). */
  deviceIsHost: boolean;
  /** Bytes of system memory available now (Infinity when it cannot be read). */
  hostAvailable: number;
  /** Largest buffer one kernel binding may address (larger operands are split by rows). */
  maxBindingBytes: number;
  /** Largest buffer the device may create. */
  maxBufferBytes: number;
  /** The device in words (Backend.description), for messages. */
  description: string;
}

/** Reads the limits of a live backend (no allocation) and the system memory available now. */
export function backendLimits(backend: Backend): BackendLimits {
  const hostAvailable = engineHost().systemMemoryAvailable();
  const device = backend.limits();
  return {
    backend: backend.name,
    deviceBytes: device.freeBytes,
    deviceIsHost: device.isHostMemory,
    hostAvailable,
    maxBindingBytes: backend.maxBindingElements * DTYPE_BYTES.f32,
    maxBufferBytes: device.maxBufferBytes,
    description: backend.description,
  };
}

/** A model (or an edit of it) does not fit the backend or the machine. */
export class ResourceError extends Error {
  /** "ResourceError", which String(error) and the stack print before the message. */
  override name = "ResourceError";
  /** `message` says what is needed and what is free; `plan` and `limits` are what it compared. */
  constructor(message: string, readonly plan: MemoryPlan, readonly limits: BackendLimits) {
    super(message);
  }
}

/** "1.50 GB"-style sizes (decimal units; GiB for the wasm32 ceiling is written out). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let u = 0;
  while (Math.abs(n) >= 1000 && u < units.length - 1) (n /= 1000, u++);
  return `${u === 0 ? n.toFixed(0) : n.toFixed(2)} ${units[u]}`;
}

/**
 * The bytes `backend` allocates for a buffer of `bytes`: WebGPU's whole 16-byte words
 * (engine/webgpu/backend.ts alloc), the WASM allocator's size class (engine/wasm/allocator.ts).
 */
export function allocatedBytes(backend: BackendName, bytes: number): number {
  return backend === "wasm" ? sizeClass(bytes) : Math.max(16, Math.ceil(bytes / 16) * 16);
}

/** A tensor's name in messages, with its count when one per layer. */
export function tensorLabel(x: Pick<TensorSize, "name" | "count">): string {
  return x.count > 1 ? `${x.name}, one of ${x.count} per-layer` : x.name;
}

/** The reasons a plan does not fit, empty when it fits. `phase` "load" checks the weights only. */
export function planProblems(
  plan: MemoryPlan,
  limits: BackendLimits,
  phase: "load" | "edit",
): string[] {
  const b = plan.bytes;
  const device = phase === "load" ? b.loadPeak : b.devicePeak;
  const what = phase === "load" ? "to load the weights" : "to edit";
  const problems: string[] = [];
  const where = limits.backend === "wasm" ? "the WASM backend" : "the WebGPU device";
  if (limits.deviceBytes !== null && device > limits.deviceBytes) {
    problems.push(
      `${what} needs ${formatBytes(device)} on ${where}, but ${
        limits.backend === "wasm"
          ? `wasm32 memory is capped at 4 GiB (${formatBytes(limits.deviceBytes)} usable)`
          : `it has ${formatBytes(limits.deviceBytes)}`
      }`,
    );
  }
  const host = (limits.deviceIsHost ? device : 0) + b.hostExtra;
  if (host > limits.hostAvailable) {
    problems.push(
      `${what} needs ${formatBytes(host)} of system memory${
        limits.deviceIsHost ? ` (${formatBytes(device)} device buffers live there)` : ""
      }, but ${formatBytes(limits.hostAvailable)} is available`,
    );
  }
  // Each buffer in the dtype it is held in (an f16 weight at 2 bytes an entry), as the backend
  // rounds it when it allocates it.
  const largest = phase === "load" ? plan.largestIn.load : plan.largest;
  // Operands over the per-binding limit are split into row chunks (src/tensor/chunk.ts), so a
  // buffer only has to fit the device's largest buffer, and one row the binding limit.
  if (allocatedBytes(limits.backend, largest.bytes) > limits.maxBufferBytes) {
    problems.push(
      `the largest buffer (${tensorLabel(largest)}, ${largest.dtype}, ${
        formatBytes(largest.bytes)
      }) exceeds ${where}'s limit of ${formatBytes(limits.maxBufferBytes)} per buffer`,
    );
  }
  const c = plan.config;
  const row = DTYPE_BYTES.f32 *
    Math.max(
      c.vocabSize,
      c.dFF,
      3 * c.dModel,
      phase === "load" ? 0 : Math.max(plan.options.seqLen, plan.options.klSeqLen),
    );
  if (row > limits.maxBindingBytes) {
    problems.push(
      `one row of ${formatBytes(row)} (vocabulary ${c.vocabSize}, ff ${c.dFF}) exceeds ` +
        `${where}'s limit of ${formatBytes(limits.maxBindingBytes)} per binding, below which ` +
        `operations split their operands`,
    );
  }
  return problems;
}

/**
 * The plan of `config` for `opts` that fits `limits` in the least time (by its flops): over the
 * attribution chunks (at least opts.attributionChunks: more groups of layers lower attribution's
 * gradients at one integrated-gradient pass per group) and checkpointed layers or not (lower
 * activations in both phases at one more forward per step; always on when opts asks for it).
 * Ties go to fewer chunks without checkpointing. When nothing fits, the plan with the lowest
 * device peak, for planProblems to report.
 */
export function fitPlan(config: ModelConfig, opts: PlanOptions, limits: BackendLimits): MemoryPlan {
  let fastest: MemoryPlan | null = null, smallest: MemoryPlan | null = null;
  for (const checkpointLayers of opts.checkpointLayers ? [true] : [false, true]) {
    let seenLayers = 0;
    for (
      let chunks = Math.max(1, opts.attributionChunks ?? 1);
      chunks <= config.nLayers;
      chunks++
    ) {
      // Chunk counts that give the same group size plan the same memory: try each size once.
      const layers = Math.ceil(config.nLayers / chunks);
      if (layers === seenLayers) continue;
      seenLayers = layers;
      const plan = planMemory(config, { ...opts, attributionChunks: chunks, checkpointLayers });
      if (planProblems(plan, limits, "edit").length === 0) {
        if (!fastest || plan.flops < fastest.flops) fastest = plan;
      } else if (!smallest || plan.bytes.devicePeak < smallest.bytes.devicePeak) smallest = plan;
    }
  }
  return fastest ?? smallest ?? planMemory(config, opts);
}
