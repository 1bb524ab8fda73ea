// Which device dtype a model's weight matrices get: f32, or f16 to halve their bytes (norms and
// biases always stay f32; every product still accumulates in f32).

import type { Backend, DType } from "../../engine/backend.ts";
import type { ParamInfo } from "./lm.ts";

/**
 * f32, f16, or auto: f16 when the backend is WebGPU (where device memory is the limit) and the
 * checkpoint stores its matrices as F16 or BF16, else f32. On the WASM backend f16 halves the
 * weights' bytes but each product widens its weight blocks first, so f32 is the faster default.
 */
export type WeightDtype = DType | "auto";

export const WEIGHT_DTYPES: readonly WeightDtype[] = ["auto", "f32", "f16"];

/** Largest finite f16 magnitude: a matrix with a larger entry stays f32. */
export const F16_MAX = 65504;

/** Whether a parameter is a weight matrix (may be f16) rather than a norm or bias vector. */
export function isMatrix(info: ParamInfo): boolean {
  return info.layout !== "vector";
}

/**
 * The device dtype of the matrices for a request, given the checkpoint's stored dtypes; a request
 * other than auto, f32 or f16 is a RangeError.
 */
export function resolveWeightDtype(
  want: WeightDtype,
  backend: Backend,
  fileDtypes: Iterable<string>,
): DType {
  // Any other value used to pass through as a dtype: "fp16" loaded f32 matrices, reported "fp16".
  if (!WEIGHT_DTYPES.includes(want)) {
    throw new RangeError(
      `weight dtype must be "auto", "f32" or "f16", got ${JSON.stringify(want)}`,
    );
  }
  if (want !== "auto") return want;
  const halves = [...fileDtypes].some((d) => d === "F16" || d === "BF16");
  return backend.name === "webgpu" && halves ? "f16" : "f32";
}
