// Tensor ops of the pointwise kernels (engine/kernels/pointwise.ts): mul, scale (scale,
// scaleInto), axpy, gelu (tanh and exact), silu, softcap (tanh) and their gradients, the
// whole-buffer reductions sum and count_nonfinite, and the AdamW update (adam).

import { chunkRows, op } from "../chunk.ts";
import { Tensor } from "../tensor.ts";
import { binary, elementwise, fail, reg, sameBackend, sameShape, unary } from "./dispatch.ts";
import { cast } from "./f16.ts";

/** dst = alpha * src, elementwise; either may be f16 (the product is formed in f32). */
export function scaleInto(src: Tensor, alpha: number, dst: Tensor): void {
  sameBackend("scale", src, dst);
  sameShape("scale", src, dst);
  if (src.dtype === "f32" && dst.dtype === "f32") {
    elementwise("scale", src.backend, [[src, "in"], [dst, "out"]], src.size, [alpha]);
    return;
  }
  const wide = src.dtype === "f32" ? src : cast(src, "f32");
  const scaled = scale(wide, alpha);
  if (wide !== src) wide.free();
  cast(scaled, dst.dtype, dst);
  scaled.free();
}

export const mul = (a: Tensor, b: Tensor): Tensor => binary("mul", a, b);
export const scale = (a: Tensor, s: number): Tensor => unary("scale", a, [s]);
export const gelu = (x: Tensor): Tensor => unary("gelu", x);
export const geluErf = (x: Tensor): Tensor => unary("gelu_erf", x);
export const silu = (x: Tensor): Tensor => unary("silu", x);
export const geluBackward = (x: Tensor, dy: Tensor): Tensor => binary("gelu_backward", x, dy);
export const geluErfBackward = (x: Tensor, dy: Tensor): Tensor =>
  binary("gelu_erf_backward", x, dy);
export const siluBackward = (x: Tensor, dy: Tensor): Tensor => binary("silu_backward", x, dy);

/** The soft-capping parameters of softcap and its backward, refused unless finite and cap > 0. */
function capParams(op: string, s: number, cap: number): number[] {
  if (!Number.isFinite(s) || !(cap > 0) || !Number.isFinite(cap)) {
    fail(op, `needs a finite scale and a positive cap, got s = ${s}, cap = ${cap}`);
  }
  return [s, cap];
}

/** cap tanh((s x) / cap), elementwise (Gemma 2's soft-capping; tanh itself at s = cap = 1). */
export const softcap = (x: Tensor, s: number, cap: number): Tensor =>
  unary("softcap", x, capParams("softcap", s, cap));
/** dy s (1 - tanh((s x) / cap)^2): softcap's gradient. */
export const softcapBackward = (x: Tensor, dy: Tensor, s: number, cap: number): Tensor =>
  binary("softcap_backward", x, dy, capParams("softcap_backward", s, cap));

/** y += alpha * x, in place. */
export function axpy(y: Tensor, x: Tensor, alpha = 1): void {
  sameBackend("axpy", x, y);
  sameShape("axpy", x, y);
  elementwise("axpy", x.backend, [[x, "in"], [y, "inout"]], x.size, [alpha]);
}

/** A reduction to one value, summing per-chunk partial results. */
function reduceAll(kernel: string, x: Tensor): Tensor {
  const be = x.backend;
  const out = Tensor.empty(be, [1]);
  if (x.size === 0) {
    be.dispatch("fill", [out.buffer], [1, 0]);
    return out;
  }
  let partial: Tensor | null = null;
  try {
    chunkRows(kernel, be, x.size, [op(reg(x), 1, "in")], (b, r0, n) => {
      if (r0 === 0) be.dispatch(kernel, [b[0], out.buffer], [n]);
      else {
        partial ??= Tensor.empty(be, [1]);
        be.dispatch(kernel, [b[0], partial.buffer], [n]);
        be.dispatch("axpy", [partial.buffer, out.buffer], [1, 1]);
      }
    });
  } finally {
    (partial as Tensor | null)?.free();
  }
  return out;
}

/** Sum of all elements, as a [1] tensor. */
export function sum(x: Tensor): Tensor {
  return reduceAll("sum", x);
}

/** Number of NaN/Inf elements, as a [1] tensor. */
export function countNonfinite(x: Tensor): Tensor {
  if (x.dtype === "f32") return reduceAll("count_nonfinite", x);
  const wide = cast(x, "f32");
  const n = reduceAll("count_nonfinite", wide);
  wide.free();
  return n;
}

export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step number, for bias correction. */
  step: number;
}

/** One AdamW update of p with gradient g and moments m, v (all in place). */
export function adam(p: Tensor, g: Tensor, m: Tensor, v: Tensor, s: AdamStep): void {
  for (const t of [g, m, v]) sameShape("adam", p, t);
  if (p.size === 0) return;
  elementwise("adam", p.backend, [[g, "in"], [p, "inout"], [m, "inout"], [v, "inout"]], p.size, [
    s.lr,
    s.beta1,
    s.beta2,
    s.eps,
    s.weightDecay,
    1 - Math.pow(s.beta1, s.step),
    1 - Math.pow(s.beta2, s.step),
  ]);
}
