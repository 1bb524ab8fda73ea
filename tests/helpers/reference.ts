// Float64 references and comparison helpers shared by kernel property tests.

import fc from "fast-check";

/**
 * Max relative error |a-b| / max(1, |b|) ... scaled by the reference's magnitude. Where an element
 * is a difference of larger terms (dy - sum y*dy with y near 1), float32 keeps only the terms'
 * relative precision: `terms` then gives each element's sum of term magnitudes (or one size for
 * all elements), and the error is measured against it as well.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol = 1e-4,
  what = "",
  terms?: ArrayLike<number> | number,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != expected ${expected.length}`);
  }
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  scale = Math.max(scale, 1e-6);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    const size = Math.max(
      Math.abs(e),
      scale,
      terms === undefined ? 0 : typeof terms === "number" ? terms : terms[i],
    );
    if (!Number.isFinite(a) || Math.abs(a - e) > tol * size) {
      throw new Error(
        `${what}: element ${i} is ${a}, expected ${e} (rel err ${Math.abs(a - e) / size} > ${tol})`,
      );
    }
  }
}

/** Random f32 values in [-1, 1) from a fast-check seed, as float32 and float64 copies. */
export function randomData(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 0x100000000) * 2 - 1;
  }
  return out;
}

/** A value no kernel produces, to prove every output element is written. */
export const POISON = Number.NaN;

export const seedArb = fc.integer({ min: 1, max: 0x7fffffff });

/** fast-check settings: enough runs to hit odd sizes, few enough for lavapipe (FC_STRESS: more). */
export const FC_RUNS = { numRuns: Number(Deno.env.get("FC_STRESS") ?? 25) };

/** Central finite differences of f at x, in float64. */
export function numericGrad(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-6) {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + h;
    const fp = f(x);
    x[i] = v - h;
    const fm = f(x);
    x[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Float64 dot product of two equal-length arrays. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
