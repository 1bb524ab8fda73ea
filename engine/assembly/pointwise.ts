// AssemblyScript kernels: pointwise arithmetic, GELU (tanh and exact)/SiLU, soft-capping (tanh)
// and their gradients, AdamW, and the whole-buffer reductions sum / count_nonfinite. Pointers
// are byte offsets into the shared linear memory; lengths are element counts. Everything runs in
// f32x4 lanes; tails that do not fill a vector are loaded into a zero-padded vector and stored
// lane by lane, so the tail takes exactly the same arithmetic path as the body.

// ---- helpers ----------------------------------------------------------------------------------

/** Loads the first `k` (1..3) f32 at `p` into a vector whose other lanes are 0. */
@inline function loadTail(p: usize, k: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (k > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (k > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores the first `k` (1..3) lanes of `v` at `p`. */
@inline function storeTail(p: usize, v: v128, k: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (k > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (k > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/**
 * e^x per lane (Cephes expf: range reduction by ln 2, degree-5 minimax polynomial, exponent
 * built from integer bits); about 1-2 ulp. Inputs are clamped to [-87, 88] so 2^n stays a
 * normal float; NaN propagates.
 */
@inline function exp4(x: v128): v128 {
  x = f32x4.max(f32x4.min(x, f32x4.splat(88.0)), f32x4.splat(-87.0));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.add(f32x4.mul(y, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  const e = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(y, e);
}

/**
 * 1 / (1 + e^-z) per lane; exactly 0 below z = -87 (the true value is under 1.7e-38 there), so
 * x * sigmoid(x) is 0, not garbage, for hugely negative x. NaN propagates.
 */
@inline function sigmoid4(z: v128): v128 {
  const one = f32x4.splat(1.0);
  const s = f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(z))));
  return v128.bitselect(f32x4.splat(0), s, f32x4.lt(z, f32x4.splat(-87.0)));
}

// GELU (tanh form): 0.5x(1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715x^3).
// sigmoid(2u) is 0 or 1 to f32 precision once |x| > 10, so u is computed from x clamped to
// [-10, 10]: x^3 can then never overflow, and the gradient's x s (1-s) u' term is never inf * 0.
const GELU_C: f32 = 0.7978845608028654; // sqrt(2/pi)
const GELU_K: f32 = 0.044715;

@inline function clampGelu(x: v128): v128 {
  return f32x4.max(f32x4.min(x, f32x4.splat(10.0)), f32x4.splat(-10.0));
}

@inline function gelu4(x: v128): v128 {
  const xc = clampGelu(x);
  const x2 = f32x4.mul(xc, xc);
  const inner = f32x4.mul(xc, f32x4.add(f32x4.splat(1.0), f32x4.mul(f32x4.splat(GELU_K), x2)));
  const s = sigmoid4(f32x4.mul(f32x4.splat(2 * GELU_C), inner));
  return f32x4.mul(x, s);
}

/** gelu'(x) * dy: s + x s (1-s) 2 u'(x), s = sigmoid(2u), u' = c(1 + 3k x^2). */
@inline function geluBackward4(xIn: v128, dy: v128): v128 {
  const x = clampGelu(xIn);
  const one = f32x4.splat(1.0);
  const x2 = f32x4.mul(x, x);
  const inner = f32x4.mul(x, f32x4.add(one, f32x4.mul(f32x4.splat(GELU_K), x2)));
  const s = sigmoid4(f32x4.mul(f32x4.splat(2 * GELU_C), inner));
  const du2 = f32x4.mul(
    f32x4.splat(2 * GELU_C),
    f32x4.add(one, f32x4.mul(f32x4.splat(3 * GELU_K), x2)),
  );
  const ds = f32x4.mul(f32x4.mul(s, f32x4.sub(one, s)), f32x4.mul(x, du2));
  return f32x4.mul(dy, f32x4.add(s, ds));
}

// The exact GELU, x Phi(x) (GPT-NeoX): Phi(x) = erfc(-x / sqrt 2) / 2, erfc from its Chebyshev
// fit t e^(-z^2 + P(t)), t = 1 / (1 + z/2), z = |x| / sqrt 2 (fractional error under 1.2e-7 in
// exact arithmetic). Past z = 13 the tail is 0 (erfc(13) is about 1e-75; exp4 stops at e^-87,
// which times a huge |x| would not vanish), as is the density below past |x| = 13.
@inline function normalCdf4(x: v128): v128 {
  const z = f32x4.min(f32x4.mul(f32x4.abs(x), f32x4.splat(0.7071067811865476)), f32x4.splat(20));
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(0.5), z)));
  let p = f32x4.splat(0.17087277);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.82215223));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.48851587));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.13520398));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.27886807));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.18628806));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.09678418));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.37409196));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.00002368));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.26551223));
  const tail = v128.bitselect(
    f32x4.splat(0),
    f32x4.mul(f32x4.mul(f32x4.splat(0.5), t), exp4(f32x4.sub(p, f32x4.mul(z, z)))),
    f32x4.gt(z, f32x4.splat(13)),
  );
  return v128.bitselect(tail, f32x4.sub(f32x4.splat(1), tail), f32x4.lt(x, f32x4.splat(0)));
}

/** dy * (Phi(x) + x phi(x)), phi(x) = e^(-x^2 / 2) / sqrt(2 pi). */
@inline function geluErfBackward4(x: v128, dy: v128): v128 {
  const c = f32x4.min(f32x4.abs(x), f32x4.splat(20));
  const pdf = v128.bitselect(
    f32x4.splat(0),
    f32x4.mul(
      f32x4.splat(0.3989422804014327),
      exp4(f32x4.mul(f32x4.splat(-0.5), f32x4.mul(c, c))),
    ),
    f32x4.gt(c, f32x4.splat(13)),
  );
  return f32x4.mul(dy, f32x4.add(normalCdf4(x), f32x4.mul(x, pdf)));
}

// tanh for Gemma's soft-capping (lib/tanh.wgsl's twin): below |z| = 0.625 Cephes' odd
// polynomial, above 1 - tanh|z| = 2 / (e^(2|z|) + 1) with |z| clamped to 40, so that the slope
// (1 - t)(1 + t) keeps its relative precision in the tails.
const TANH_SMALL: f32 = 0.625;

@inline function tanhSmall4(a: v128): v128 {
  const z = f32x4.mul(a, a);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  return f32x4.add(a, f32x4.mul(f32x4.mul(a, z), p));
}

/** 1 - tanh(a) for a >= 0. */
@inline function tanhGap4(a: v128): v128 {
  const e = exp4(f32x4.mul(f32x4.splat(2), f32x4.min(a, f32x4.splat(40))));
  return f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1)));
}

@inline function tanh4(z: v128): v128 {
  const a = f32x4.abs(z);
  const t = v128.bitselect(
    tanhSmall4(a),
    f32x4.sub(f32x4.splat(1), tanhGap4(a)),
    f32x4.lt(a, f32x4.splat(TANH_SMALL)),
  );
  return v128.bitselect(f32x4.neg(t), t, f32x4.lt(z, f32x4.splat(0)));
}

/** 1 - tanh(z)^2. */
@inline function tanhSlope4(z: v128): v128 {
  const a = f32x4.abs(z);
  const t = tanhSmall4(a);
  const q = tanhGap4(a);
  return v128.bitselect(
    f32x4.sub(f32x4.splat(1), f32x4.mul(t, t)),
    f32x4.mul(q, f32x4.sub(f32x4.splat(2), q)),
    f32x4.lt(a, f32x4.splat(TANH_SMALL)),
  );
}

/** cap tanh((s x) / cap). */
@inline function softcap4(x: v128, s: v128, cap: v128): v128 {
  return f32x4.mul(cap, tanh4(f32x4.div(f32x4.mul(s, x), cap)));
}

/** dy s (1 - tanh((s x) / cap)^2). */
@inline function softcapBackward4(x: v128, dy: v128, s: v128, cap: v128): v128 {
  return f32x4.mul(dy, f32x4.mul(s, tanhSlope4(f32x4.div(f32x4.mul(s, x), cap))));
}

@inline function silu4(x: v128): v128 {
  return f32x4.mul(x, sigmoid4(x));
}

/** silu'(x) * dy = dy * s (1 + x (1 - s)), s = sigmoid(x). */
@inline function siluBackward4(x: v128, dy: v128): v128 {
  const one = f32x4.splat(1.0);
  const s = sigmoid4(x);
  return f32x4.mul(dy, f32x4.mul(s, f32x4.add(one, f32x4.mul(x, f32x4.sub(one, s)))));
}

// ---- elementwise arithmetic -----------------------------------------------------------------

export function mul(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

export function scale(a: usize, out: usize, n: i32, s: f32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), sv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) * s);
  }
}

export function axpy(x: usize, y: usize, n: i32, alpha: f32): void {
  const av = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(av, v128.load(x + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + alpha * load<f32>(x + o));
  }
}

// ---- activations ----------------------------------------------------------------------------

export function gelu(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, gelu4(v128.load(x + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    storeTail(out + o, gelu4(loadTail(x + o, n - i)), n - i);
  }
}

export function gelu_backward(x: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, geluBackward4(v128.load(x + o), v128.load(dy + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    const k = n - i;
    storeTail(dx + o, geluBackward4(loadTail(x + o, k), loadTail(dy + o, k)), k);
  }
}

export function gelu_erf(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    v128.store(out + o, f32x4.mul(v, normalCdf4(v)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    const v = loadTail(x + o, n - i);
    storeTail(out + o, f32x4.mul(v, normalCdf4(v)), n - i);
  }
}

export function gelu_erf_backward(x: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, geluErfBackward4(v128.load(x + o), v128.load(dy + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    const k = n - i;
    storeTail(dx + o, geluErfBackward4(loadTail(x + o, k), loadTail(dy + o, k)), k);
  }
}

export function silu(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, silu4(v128.load(x + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    storeTail(out + o, silu4(loadTail(x + o, n - i)), n - i);
  }
}

export function silu_backward(x: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, siluBackward4(v128.load(x + o), v128.load(dy + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    const k = n - i;
    storeTail(dx + o, siluBackward4(loadTail(x + o, k), loadTail(dy + o, k)), k);
  }
}

/** Soft-capping (Gemma 2): out = cap tanh((s x) / cap); tanh itself at s = cap = 1. */
export function softcap(x: usize, out: usize, n: i32, s: f32, cap: f32): void {
  const sv = f32x4.splat(s), cv = f32x4.splat(cap);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, softcap4(v128.load(x + o), sv, cv));
  }
  if (i < n) {
    const o = <usize>i << 2;
    storeTail(out + o, softcap4(loadTail(x + o, n - i), sv, cv), n - i);
  }
}

export function softcap_backward(x: usize, dy: usize, dx: usize, n: i32, s: f32, cap: f32): void {
  const sv = f32x4.splat(s), cv = f32x4.splat(cap);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, softcapBackward4(v128.load(x + o), v128.load(dy + o), sv, cv));
  }
  if (i < n) {
    const o = <usize>i << 2;
    const k = n - i;
    storeTail(dx + o, softcapBackward4(loadTail(x + o, k), loadTail(dy + o, k), sv, cv), k);
  }
}

// ---- AdamW ----------------------------------------------------------------------------------

/**
 * AdamW. Lanes whose g, m and v are all exactly zero keep m and v bit-identical and take no Adam
 * step (only weight decay, skipped entirely when weightDecay = 0), so p stays bit-identical too.
 */
export function adam(
  g: usize,
  p: usize,
  m: usize,
  v: usize,
  n: i32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weightDecay: f32,
  bc1: f32,
  bc2: f32,
): void {
  const zero = f32x4.splat(0);
  const b1 = f32x4.splat(beta1), c1 = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2), c2 = f32x4.splat(1 - beta2);
  const vb1 = f32x4.splat(bc1), vb2 = f32x4.splat(bc2);
  const veps = f32x4.splat(eps), vlr = f32x4.splat(lr);
  const decay = f32x4.splat(lr * weightDecay);
  const useDecay = weightDecay != 0;
  let i = 0;
  for (; i < n; i += 4) {
    const o = <usize>i << 2;
    const k = min(n - i, 4);
    let gv: v128, pv: v128, mv: v128, vv: v128;
    if (k == 4) {
      gv = v128.load(g + o);
      pv = v128.load(p + o);
      mv = v128.load(m + o);
      vv = v128.load(v + o);
    } else {
      gv = loadTail(g + o, k);
      pv = loadTail(p + o, k);
      mv = loadTail(m + o, k);
      vv = loadTail(v + o, k);
    }
    const z = v128.and(
      v128.and(f32x4.eq(gv, zero), f32x4.eq(mv, zero)),
      f32x4.eq(vv, zero),
    );
    const m2 = f32x4.add(f32x4.mul(b1, mv), f32x4.mul(c1, gv));
    const v2 = f32x4.add(f32x4.mul(b2, vv), f32x4.mul(c2, f32x4.mul(gv, gv)));
    const denom = f32x4.add(f32x4.sqrt(f32x4.div(v2, vb2)), veps);
    let step = f32x4.div(f32x4.mul(vlr, f32x4.div(m2, vb1)), denom);
    step = v128.bitselect(zero, step, z);
    if (useDecay) step = f32x4.add(step, f32x4.mul(decay, pv));
    const p2 = f32x4.sub(pv, step);
    const mOut = v128.bitselect(mv, m2, z);
    const vOut = v128.bitselect(vv, v2, z);
    if (k == 4) {
      v128.store(p + o, p2);
      v128.store(m + o, mOut);
      v128.store(v + o, vOut);
    } else {
      storeTail(p + o, p2, k);
      storeTail(m + o, mOut, k);
      storeTail(v + o, vOut, k);
    }
  }
}

// ---- reductions -----------------------------------------------------------------------------

/** Elements summed in f32 lanes before the block total is added to an f64 accumulator. */
const SUM_BLOCK = 1024;

export function sum(x: usize, out: usize, n: i32): void {
  let total: f64 = 0;
  let i = 0;
  while (i + 16 <= n) {
    const end = min(n - 15, i + SUM_BLOCK);
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (; i < end; i += 16) {
      const p = x + (<usize>i << 2);
      a0 = f32x4.add(a0, v128.load(p));
      a1 = f32x4.add(a1, v128.load(p, 16));
      a2 = f32x4.add(a2, v128.load(p, 32));
      a3 = f32x4.add(a3, v128.load(p, 48));
    }
    const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
    total += <f64>f32x4.extract_lane(s, 0) + <f64>f32x4.extract_lane(s, 1) +
      <f64>f32x4.extract_lane(s, 2) + <f64>f32x4.extract_lane(s, 3);
  }
  for (; i < n; i++) total += <f64>load<f32>(x + (<usize>i << 2));
  store<f32>(out, <f32>total);
}

export function count_nonfinite(x: usize, out: usize, n: i32): void {
  const mask = i32x4.splat(0x7f800000);
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = x + (<usize>i << 2);
    // All-ones exponent means NaN or +-Inf; a true lane compares to -1, so subtracting counts it.
    c0 = i32x4.sub(c0, i32x4.eq(v128.and(v128.load(p), mask), mask));
    c1 = i32x4.sub(c1, i32x4.eq(v128.and(v128.load(p, 16), mask), mask));
  }
  const c = i32x4.add(c0, c1);
  let count: i64 = <i64>i32x4.extract_lane(c, 0) + <i64>i32x4.extract_lane(c, 1) +
    <i64>i32x4.extract_lane(c, 2) + <i64>i32x4.extract_lane(c, 3);
  for (; i < n; i++) {
    if ((load<u32>(x + (<usize>i << 2)) & 0x7f800000) == 0x7f800000) count++;
  }
  store<f32>(out, <f32>count);
}
