// Rotary embeddings' inverse frequencies, as Hugging Face's LlamaRotaryEmbedding computes them in
// float32 (transformers' modeling_rope_utils: the default, linear and llama3 types): each step is
// one float32 operation, rounded here with Math.fround, so that the table (and with it every
// angle the rope kernel forms) is the f32 Hugging Face computes.

import type { RopeScaling } from "./config.ts";

/** The Dh/2 inverse frequencies of a head of `headDim` for rotary base `theta`, scaled. */
export function ropeInvFreq(
  headDim: number,
  theta: number,
  scaling: RopeScaling | null,
): Float32Array {
  return scaleInvFreq(defaultInvFreq(headDim, theta), scaling);
}

/**
 * 1 / theta ** (arange(0, Dh, 2).float() / Dh), each operation rounded to f32 (the power is
 * correctly rounded unless the exact value lies too close to a tie for Math.pow's double to
 * tell; torch's float32 pow is at times one unit in the last place off, tests/model/rope_test.ts).
 */
export function defaultInvFreq(headDim: number, theta: number): Float32Array {
  const f = Math.fround;
  return Float32Array.from(
    { length: headDim / 2 },
    (_, i) => f(1 / f(Math.pow(theta, f((2 * i) / headDim)))),
  );
}

/** The default table `inv` scaled as Hugging Face scales it (a new table; `inv` as is for null). */
export function scaleInvFreq(inv: Float32Array, scaling: RopeScaling | null): Float32Array {
  if (scaling?.type === "linear") {
    const factor = Math.fround(scaling.factor);
    return inv.map((v) => Math.fround(v / factor));
  }
  if (scaling?.type === "llama3") return inv.map((v) => llama3(v, scaling));
  return inv;
}

/**
 * _compute_llama3_parameters for one default inverse frequency: frequencies whose wavelength
 * exceeds original / lowFreqFactor are divided by `factor`, those shorter than original /
 * highFreqFactor are kept, and those between are blended. Python scalars meet the f32 tensor as
 * f32 values; `scalar / tensor` is torch's reciprocal then a product.
 */
function llama3(inv: number, s: Extract<RopeScaling, { type: "llama3" }>): number {
  const f = Math.fround;
  const factor = f(s.factor);
  const lowWavelen = f(s.originalContext / s.lowFreqFactor);
  const highWavelen = f(s.originalContext / s.highFreqFactor);
  const wavelen = f(f(1 / inv) * f(2 * Math.PI));
  if (wavelen < highWavelen) return inv;
  if (wavelen > lowWavelen) return f(inv / factor);
  const smooth = f(
    f(f(f(1 / wavelen) * f(s.originalContext)) - f(s.lowFreqFactor)) /
      f(s.highFreqFactor - s.lowFreqFactor),
  );
  return f(f(f(f(1 - smooth) * inv) / factor) + f(smooth * inv));
}
