// Tensor ops of the normalisation kernels (engine/kernels/norm.ts): layernorm and rmsnorm, their
// backward and param_grad kernels.

import { shapeStr, Tensor } from "../tensor.ts";
import { fail, rowKernel, rowsCols, sameBackend, sameShape } from "./dispatch.ts";

export interface NormStats {
  out: Tensor;
  /** Per-row mean (layer norm only). */
  mean?: Tensor;
  /** Per-row 1/std (layer norm) or 1/rms (RMS norm). */
  rstd: Tensor;
}

function checkNorm(op: string, x: Tensor, ...params: Tensor[]): [number, number] {
  const [rows, d] = rowsCols(x);
  for (const p of params) {
    sameBackend(op, x, p);
    if (p.size !== d) {
      fail(op, `parameter ${shapeStr(p.shape)} does not match x ${shapeStr(x.shape)}`);
    }
  }
  return [rows, d];
}

export function layernorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): NormStats {
  const [rows, d] = checkNorm("layernorm", x, gamma, beta);
  const out = Tensor.empty(x.backend, x.shape);
  const mean = Tensor.empty(x.backend, [rows]);
  const rstd = Tensor.empty(x.backend, [rows]);
  if (x.size > 0) {
    rowKernel("layernorm", rows, [
      [x, d, "in"],
      [gamma, 0, "in"],
      [beta, 0, "in"],
      [out, d, "out"],
      [mean, 1, "out"],
      [rstd, 1, "out"],
    ], (rn) => [rn, d, eps]);
  }
  return { out, mean, rstd };
}

export function layernormBackward(
  x: Tensor,
  gamma: Tensor,
  dy: Tensor,
  mean: Tensor,
  rstd: Tensor,
): Tensor {
  const [rows, d] = checkNorm("layernorm_backward", x, gamma);
  sameShape("layernorm_backward", x, dy);
  const dx = Tensor.empty(x.backend, x.shape);
  if (x.size > 0) {
    rowKernel("layernorm_backward", rows, [
      [x, d, "in"],
      [gamma, 0, "in"],
      [dy, d, "in"],
      [mean, 1, "in"],
      [rstd, 1, "in"],
      [dx, d, "out"],
    ], (rn) => [rn, d]);
  }
  return dx;
}

/** Adds (or writes) d gamma and d beta of a layer norm into the given tensors. */
export function layernormParamGrad(
  x: Tensor,
  dy: Tensor,
  mean: Tensor,
  rstd: Tensor,
  dgamma: Tensor,
  dbeta: Tensor,
  accumulate: boolean,
): void {
  const [rows, d] = checkNorm("layernorm_param_grad", x, dgamma, dbeta);
  if (x.size === 0) return;
  rowKernel("layernorm_param_grad", rows, [
    [x, d, "in"],
    [dy, d, "in"],
    [mean, 1, "in"],
    [rstd, 1, "in"],
    [dgamma, 0, "inout"],
    [dbeta, 0, "inout"],
  ], (rn, r0) => [rn, d, accumulate || r0 > 0 ? 1 : 0]);
}

export function rmsnorm(x: Tensor, gamma: Tensor, eps: number): NormStats {
  const [rows, d] = checkNorm("rmsnorm", x, gamma);
  const out = Tensor.empty(x.backend, x.shape);
  const rstd = Tensor.empty(x.backend, [rows]);
  if (x.size > 0) {
    rowKernel("rmsnorm", rows, [
      [x, d, "in"],
      [gamma, 0, "in"],
      [out, d, "out"],
      [rstd, 1, "out"],
    ], (rn) => [rn, d, eps]);
  }
  return { out, rstd };
}

export function rmsnormBackward(x: Tensor, gamma: Tensor, dy: Tensor, rrms: Tensor): Tensor {
  const [rows, d] = checkNorm("rmsnorm_backward", x, gamma);
  sameShape("rmsnorm_backward", x, dy);
  const dx = Tensor.empty(x.backend, x.shape);
  if (x.size > 0) {
    rowKernel("rmsnorm_backward", rows, [
      [x, d, "in"],
      [gamma, 0, "in"],
      [dy, d, "in"],
      [rrms, 1, "in"],
      [dx, d, "out"],
    ], (rn) => [rn, d]);
  }
  return dx;
}

export function rmsnormParamGrad(
  x: Tensor,
  dy: Tensor,
  rrms: Tensor,
  dgamma: Tensor,
  accumulate: boolean,
): void {
  const [rows, d] = checkNorm("rmsnorm_param_grad", x, dgamma);
  if (x.size === 0) return;
  rowKernel("rmsnorm_param_grad", rows, [
    [x, d, "in"],
    [dy, d, "in"],
    [rrms, 1, "in"],
    [dgamma, 0, "inout"],
  ], (rn, r0) => [rn, d, accumulate || r0 > 0 ? 1 : 0]);
}
