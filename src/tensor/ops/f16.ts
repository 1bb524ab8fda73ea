// Tensor ops of the f16 conversion kernels (engine/kernels/f16.ts): f32_to_f16 and f16_to_f32
// (cast). The f16 variants of matmul, embedding and the unit kernels are chosen by the ops of
// those families.

import type { DType } from "../../../engine/backend.ts";
import { Tensor } from "../tensor.ts";
import { elementwise, fail, sameBackend, sameShape } from "./dispatch.ts";

/**
 * x converted to `dtype`: f32 -> f16 rounds to nearest even (beyond ±65504 gives ±Infinity),
 * f16 -> f32 is exact. With `into` (same shape, of `dtype`), writes there.
 */
export function cast(x: Tensor, dtype: DType, into?: Tensor): Tensor {
  if (into) {
    sameBackend("cast", x, into);
    sameShape("cast", x, into);
    if (into.dtype !== dtype) fail("cast", `output holds ${into.dtype}, not ${dtype}`);
  }
  if (x.dtype === dtype) {
    if (!into) return x.clone();
    if (x.size > 0) x.backend.copy(x.buffer, 0, into.buffer, 0, x.size);
    return into;
  }
  const out = into ?? Tensor.empty(x.backend, x.shape, dtype);
  const kernel = dtype === "f16" ? "f32_to_f16" : "f16_to_f32";
  if (x.size > 0) elementwise(kernel, x.backend, [[x, "in"], [out, "out"]], x.size);
  return out;
}
