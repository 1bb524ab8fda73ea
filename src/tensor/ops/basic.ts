// Tensor ops of the basic kernels (engine/kernels/basic.ts): fill (fill, zeros) and add.

import type { Backend } from "../../../engine/backend.ts";
import { fillRegion } from "../chunk.ts";
import { type Shape, Tensor } from "../tensor.ts";
import { binary, reg } from "./dispatch.ts";

/** Sets every element of t to value (in place). */
export function fill(t: Tensor, value: number): Tensor {
  if (t.size > 0) fillRegion(t.backend, reg(t), value);
  return t;
}

/** A new tensor of zeros (chunked fill, unlike Tensor.zeros). */
export function zeros(backend: Backend, shape: Shape): Tensor {
  return fill(Tensor.empty(backend, shape), 0);
}

export const add = (a: Tensor, b: Tensor): Tensor => binary("add", a, b);
