// Specs of the pointwise kernels: elementwise arithmetic, activations and their gradients, the
// AdamW update, and the whole-buffer reductions `sum` and `count_nonfinite` (one workgroup).

import { elementPieces, EXP_COST, grid1d, type KernelSpec } from "./spec.ts";

/**
 * An elementwise kernel over `n` elements whose buffers all hold at least `n`; `cost`: work per
 * element against a copy (KernelSpec.pieces).
 */
function elementwise(
  name: string,
  inputs: string[],
  outputs: string[],
  extra: (readonly [string, "u32" | "f32"])[] = [],
  cost = 1,
): KernelSpec {
  return {
    name,
    inputs,
    outputs,
    params: [["n", "u32"], ...extra],
    sizes: (p) => [...inputs, ...outputs].map(() => p.n),
    grid: (p) => grid1d(p.n),
    pieces: elementPieces(inputs.length + outputs.length, cost),
  };
}

export const pointwiseKernels: KernelSpec[] = [
  /** out = a * b. */
  elementwise("mul", ["a", "b"], ["out"]),
  /** out = s * a. */
  elementwise("scale", ["a"], ["out"], [["s", "f32"]]),
  /** y += alpha * x, in place. */
  elementwise("axpy", ["x"], ["y"], [["alpha", "f32"]]),
  /** GPT-2's tanh GELU: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))). */
  elementwise("gelu", ["x"], ["out"], [], EXP_COST),
  /** dx = dy * gelu'(x). */
  elementwise("gelu_backward", ["x", "dy"], ["dx"], [], EXP_COST),
  /** The exact GELU (GPT-NeoX's "gelu"): x Phi(x), Phi the standard normal CDF. */
  elementwise("gelu_erf", ["x"], ["out"], [], EXP_COST),
  /** dx = dy * (Phi(x) + x phi(x)). */
  elementwise("gelu_erf_backward", ["x", "dy"], ["dx"], [], EXP_COST),
  /**
   * Soft-capping (Gemma 2's attention scores and logits): out = cap tanh((s x) / cap), tanh
   * itself at s = cap = 1; tanh to a few ulp with relative precision near 0 (lib/tanh.wgsl).
   */
  elementwise("softcap", ["x"], ["out"], [["s", "f32"], ["cap", "f32"]], EXP_COST),
  /** dx = dy s (1 - tanh((s x) / cap)^2), relative precision kept in the tails. */
  elementwise("softcap_backward", ["x", "dy"], ["dx"], [["s", "f32"], ["cap", "f32"]], EXP_COST),
  /** out = x * sigmoid(x). */
  elementwise("silu", ["x"], ["out"], [], EXP_COST),
  /** dx = dy * silu'(x). */
  elementwise("silu_backward", ["x", "dy"], ["dx"], [], EXP_COST),
  /**
   * AdamW, bias corrections bc1 = 1 - beta1^t and bc2 = 1 - beta2^t passed in:
   * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m/bc1)/(sqrt(v/bc2)+eps) + lr wd p.
   * Entries with g, m, v all exactly 0 and weightDecay = 0 are left bit-identical.
   */
  elementwise("adam", ["g"], ["p", "m", "v"], [
    ["lr", "f32"],
    ["beta1", "f32"],
    ["beta2", "f32"],
    ["eps", "f32"],
    ["weightDecay", "f32"],
    ["bc1", "f32"],
    ["bc2", "f32"],
  ], EXP_COST / 2),
  /** out[0] = sum of x[0..n). One workgroup on WebGPU. */
  {
    name: "sum",
    inputs: ["x"],
    outputs: ["out"],
    params: [["n", "u32"]],
    sizes: (p) => [p.n, 1],
    grid: () => [1, 1, 1],
  },
  /** out[0] = number of NaN and +-Inf among x[0..n), as an f32. One workgroup on WebGPU. */
  {
    name: "count_nonfinite",
    inputs: ["x"],
    outputs: ["out"],
    params: [["n", "u32"]],
    sizes: (p) => [p.n, 1],
    grid: () => [1, 1, 1],
  },
];
