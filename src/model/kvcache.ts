// Per-layer key/value cache for incremental decoding: each layer keeps the keys and values of
// the positions seen so far as [batch * kvHeads, capacity, headDim] (keys after rotary), so a
// forward over the next t tokens only projects those t positions and attends to the cached
// ones. Inference only (no gradients flow through the cache).

import { type Backend, BackendError } from "../../engine/backend.ts";
import { keep, Tensor } from "../tensor/tensor.ts";
import type { ModelConfig } from "./config.ts";

/** What one layer's attention sees of the cache during a cached forward. */
export interface LayerCache {
  /** Keys [batch * kvHeads, capacity, headDim]. */
  readonly k: Tensor;
  /** Values [batch * kvHeads, capacity, headDim]. */
  readonly v: Tensor;
  /** Positions already cached (the new tokens start here). */
  readonly pos: number;
}

/** The keys and values of every layer over the positions seen so far (cached generation). */
export class KVCache {
  /** Each layer's keys (after rotary), [batch * kvHeads, capacity, headDim] f32. */
  readonly k: Tensor[] = [];
  /** Each layer's values, [batch * kvHeads, capacity, headDim] f32. */
  readonly v: Tensor[] = [];
  /** Positions cached so far. */
  length = 0;

  /**
   * Allocates every layer's keys and values for `batch` rows of up to `capacity` positions (at
   * most the context length) on `backend`; a BackendError for a bad batch or capacity.
   */
  constructor(
    readonly backend: Backend,
    readonly config: ModelConfig,
    readonly batch: number,
    readonly capacity: number,
  ) {
    if (!Number.isInteger(batch) || batch < 1) {
      throw new BackendError(`KVCache: batch must be a positive integer, got ${batch}`);
    }
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > config.contextLength) {
      throw new BackendError(
        `KVCache: capacity ${capacity} must be in [1, ${config.contextLength}] (the context length)`,
      );
    }
    const shape = [batch * config.nKvHeads, capacity, config.headDim];
    try {
      for (let l = 0; l < config.nLayers; l++) {
        this.k.push(keep(Tensor.empty(backend, shape)));
        this.v.push(keep(Tensor.empty(backend, shape)));
      }
    } catch (e) {
      this.free();
      throw e;
    }
  }

  /** Layer l's view for a forward over `t` new positions; checks the capacity. */
  layer(l: number, t: number): LayerCache {
    if (this.length + t > this.capacity) {
      throw new BackendError(
        `KVCache: ${this.length} cached + ${t} new positions exceed the capacity ${this.capacity}`,
      );
    }
    return { k: this.k[l], v: this.v[l], pos: this.length };
  }

  /** Records that a forward over t new positions filled every layer. */
  advance(t: number): void {
    this.length += t;
  }

  /** Forgets the cached positions (the buffers are reused). */
  reset(): void {
    this.length = 0;
  }

  /** Device bytes held. */
  get bytes(): number {
    return this.k.reduce((s, t) => s + t.size * 8, 0);
  }

  /** Frees every layer's buffers; the cache is unusable after. */
  free(): void {
    for (const t of [...this.k, ...this.v]) t.free();
    this.k.length = 0;
    this.v.length = 0;
  }
}
