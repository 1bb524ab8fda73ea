// AdamW over a set of parameter Vars: moments live on the device next to the parameters and the
// update is one `adam` kernel per tensor. Parameters whose gradient is absent are skipped, and
// entries whose gradient was masked to 0 stay bit-identical (moments stay 0, weight decay 0).

import { adam as adamKernel } from "../tensor/ops.ts";
import { keep, Tensor } from "../tensor/tensor.ts";
import type { Var } from "./variable.ts";

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAM_DEFAULTS: AdamConfig = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
};

export class Adam {
  readonly config: AdamConfig;
  step = 0;
  #moments = new Map<Var, { m: Tensor; v: Tensor }>();

  constructor(readonly params: readonly Var[], config: Partial<AdamConfig> = {}) {
    this.config = { ...ADAM_DEFAULTS, ...config };
  }

  /** Applies one update with the current gradients, at learning rate `lr` (default config.lr). */
  update(lr = this.config.lr): void {
    this.step++;
    for (const p of this.params) {
      if (!p.grad) continue;
      let mom = this.#moments.get(p);
      if (!mom) {
        mom = {
          m: keep(Tensor.zeros(p.value.backend, p.shape)),
          v: keep(Tensor.zeros(p.value.backend, p.shape)),
        };
        this.#moments.set(p, mom);
      }
      adamKernel(p.value, p.grad, mom.m, mom.v, { ...this.config, lr, step: this.step });
    }
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** Moment tensors by parameter name (for checkpoints). */
  moments(): Map<Var, { m: Tensor; v: Tensor }> {
    return this.#moments;
  }

  /** Re-creates moments from host data by parameter name (checkpoint resume). */
  async restoreMoments(
    load: (name: string) => Promise<{ m: Float32Array; v: Float32Array } | null>,
  ): Promise<void> {
    for (const p of this.params) {
      const data = await load(p.name);
      if (!data) continue;
      const be = p.value.backend;
      this.#moments.get(p)?.m.free();
      this.#moments.get(p)?.v.free();
      this.#moments.set(p, {
        m: keep(Tensor.fromArray(be, data.m, p.shape)),
        v: keep(Tensor.fromArray(be, data.v, p.shape)),
      });
    }
  }

  dispose(): void {
    for (const { m, v } of this.#moments.values()) {
      m.free();
      v.free();
    }
    this.#moments.clear();
  }
}
