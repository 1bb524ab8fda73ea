// AssemblyScript kernels: row softmax, cross-entropy, KL divergence and argmax, with their
// backward passes. Pointers are byte offsets into the shared linear memory. Rows are processed
// with f32x4 SIMD and a vectorised exp (Cephes expf, ~1 ulp); row sums are accumulated in f32x4
// blocks of at most 1024 elements that are added into an f64 total, so 50k-wide rows stay exact
// to ~1e-7 relative.

// ---- vectorised exp ------------------------------------------------------------------------

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
/** Below this exp is set to exactly 0 (the result would be subnormal). */
const EXP_LO: f32 = -87.33654;
/** Arguments are clamped here (e^88 ~ 1.65e38); the kernels only need arguments <= 0. */
const EXP_HI: f32 = 88.0;
/** 1.5 * 2^23: adding it rounds an f32 of magnitude < 2^22 to an integer. */
const ROUND_MAGIC: f32 = 12582912.0;
const ROUND_MAGIC_BITS: i32 = 0x4b400000;

/** e^x lane-wise: ~1 ulp for x in [-87.3, 88]; exactly 0 below -87.33654 and for -inf. */
// @ts-ignore: decorator
@inline
function exp4(x: v128): v128 {
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  // n = round(x log2 e) via the 1.5 * 2^23 trick: its low mantissa bits hold n.
  const t = f32x4.add(f32x4.mul(xc, f32x4.splat(LOG2E)), f32x4.splat(ROUND_MAGIC));
  const fx = f32x4.sub(t, f32x4.splat(ROUND_MAGIC));
  let r = f32x4.sub(xc, f32x4.mul(fx, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(LN2_LO)));
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.relaxed_madd(y, r, f32x4.splat(1.3981999507e-3));
  y = f32x4.relaxed_madd(y, r, f32x4.splat(8.3334519073e-3));
  y = f32x4.relaxed_madd(y, r, f32x4.splat(4.1665795894e-2));
  y = f32x4.relaxed_madd(y, r, f32x4.splat(1.6666665459e-1));
  y = f32x4.relaxed_madd(y, r, f32x4.splat(5.0000001201e-1));
  y = f32x4.relaxed_madd(f32x4.mul(y, r), r, f32x4.add(r, f32x4.splat(1.0)));
  // 2^n: (bits(t) - bits(magic) + 127) << 23.
  const n = i32x4.sub(t, i32x4.splat(ROUND_MAGIC_BITS - 127));
  const pow2 = i32x4.shl(n, 23);
  return v128.andnot(f32x4.mul(y, pow2), f32x4.lt(x, f32x4.splat(EXP_LO)));
}

// @ts-ignore: decorator
@inline
function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

/**
 * Test probe (not a kernel): out[i] = exp(x[i]) with the vectorised exp, for the accuracy test.
 */
export function softmax_exp_probe(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, exp4(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, exp1(load<f32>(x + o)));
  }
}

// ---- row helpers ---------------------------------------------------------------------------

/** Elements per f32x4 block before the block sum is added into the f64 total. */
const BLOCK = 1024;

// @ts-ignore: decorator
@inline
function hsum(v: v128): f64 {
  return (<f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1)) +
    (<f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline
function hmax(v: v128): f32 {
  return max(
    max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
    max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)),
  );
}

/** max_j scale * x[j] for j < n (-inf when n = 0). */
function rowMax(x: usize, n: i32, scale: f32): f32 {
  const s4 = f32x4.splat(scale);
  let m4 = f32x4.splat(f32.NEGATIVE_INFINITY);
  let j = 0;
  for (; j + 4 <= n; j += 4) m4 = f32x4.pmax(m4, f32x4.mul(v128.load(x + (<usize>j << 2)), s4));
  let m = hmax(m4);
  for (; j < n; j++) m = max(m, load<f32>(x + (<usize>j << 2)) * scale);
  return m;
}

/** sum_j exp(scale * x[j] - m) for j < n, in f64; stores the exps to out when out != 0. */
function rowSumExp(x: usize, out: usize, n: i32, scale: f32, m: f32): f64 {
  const s4 = f32x4.splat(scale), m4 = f32x4.splat(m);
  const n4 = n & ~3;
  let total: f64 = 0;
  let j = 0;
  while (j < n4) {
    const end = min(n4, j + BLOCK);
    let acc = f32x4.splat(0);
    if (out != 0) {
      for (; j < end; j += 4) {
        const o = <usize>j << 2;
        const e = exp4(f32x4.sub(f32x4.mul(v128.load(x + o), s4), m4));
        v128.store(out + o, e);
        acc = f32x4.add(acc, e);
      }
    } else {
      for (; j < end; j += 4) {
        acc = f32x4.add(acc, exp4(f32x4.sub(f32x4.mul(v128.load(x + (<usize>j << 2)), s4), m4)));
      }
    }
    total += hsum(acc);
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    const e = exp1(load<f32>(x + o) * scale - m);
    if (out != 0) store<f32>(out + o, e);
    total += <f64>e;
  }
  return total;
}

/** sum_j a[j] * b[j] for j < n, in f64 (f32x4 blocks). */
function rowDot(a: usize, b: usize, n: i32): f64 {
  const n4 = n & ~3;
  let total: f64 = 0;
  let j = 0;
  while (j < n4) {
    const end = min(n4, j + BLOCK);
    let acc = f32x4.splat(0);
    for (; j < end; j += 4) {
      const o = <usize>j << 2;
      acc = f32x4.add(acc, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    }
    total += hsum(acc);
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    total += <f64>(load<f32>(a + o) * load<f32>(b + o));
  }
  return total;
}

/** out[j] = v for j in [from, to). */
function fillRange(out: usize, from: i32, to: i32, v: f32): void {
  const v4 = f32x4.splat(v);
  let j = from;
  for (; j + 4 <= to; j += 4) v128.store(out + (<usize>j << 2), v4);
  for (; j < to; j++) store<f32>(out + (<usize>j << 2), v);
}

/** Row offset in bytes of row r of a row-major matrix with `cols` f32 columns. */
// @ts-ignore: decorator
@inline
function rowPtr(base: usize, r: i32, cols: i32): usize {
  return base + ((<usize>r * <usize>cols) << 2);
}

// ---- softmax -------------------------------------------------------------------------------

export function softmax(
  x: usize,
  out: usize,
  rows: i32,
  cols: i32,
  qlen: i32,
  causal: i32,
  scale: f32,
): void {
  for (let r = 0; r < rows; r++) {
    let n = cols;
    if (causal != 0 && qlen > 0) n = min(cols, max(0, (r % qlen) + cols - qlen + 1));
    const xr = rowPtr(x, r, cols), orow = rowPtr(out, r, cols);
    if (n > 0) {
      const m = rowMax(xr, n, scale);
      const inv = <f32>(1.0 / rowSumExp(xr, orow, n, scale, m));
      const i4 = f32x4.splat(inv);
      let j = 0;
      for (; j + 4 <= n; j += 4) {
        const o = <usize>j << 2;
        v128.store(orow + o, f32x4.mul(v128.load(orow + o), i4));
      }
      for (; j < n; j++) {
        const o = <usize>j << 2;
        store<f32>(orow + o, load<f32>(orow + o) * inv);
      }
    }
    fillRange(orow, n, cols, 0);
  }
}

export function softmax_backward(
  y: usize,
  dy: usize,
  dx: usize,
  rows: i32,
  cols: i32,
  scale: f32,
): void {
  const s4 = f32x4.splat(scale);
  for (let r = 0; r < rows; r++) {
    const yr = rowPtr(y, r, cols), dyr = rowPtr(dy, r, cols), dxr = rowPtr(dx, r, cols);
    const dot = <f32>rowDot(yr, dyr, cols);
    const d4 = f32x4.splat(dot);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const o = <usize>j << 2;
      const g = f32x4.sub(v128.load(dyr + o), d4);
      v128.store(dxr + o, f32x4.mul(s4, f32x4.mul(v128.load(yr + o), g)));
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(dxr + o, scale * (load<f32>(yr + o) * (load<f32>(dyr + o) - dot)));
    }
  }
}

// ---- cross-entropy -------------------------------------------------------------------------

/** Target index of a row: -1 ignored, -2 invalid (>= V or NaN), else the index. */
// @ts-ignore: decorator
@inline
function targetOf(targets: usize, r: i32, V: i32): i32 {
  const t = load<f32>(targets + (<usize>r << 2));
  if (t < 0) return -1;
  if (!(t < <f32>V)) return -2;
  return <i32>t;
}

export function cross_entropy(
  logits: usize,
  targets: usize,
  loss: usize,
  lse: usize,
  rows: i32,
  V: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const xr = rowPtr(logits, r, V);
    const m = rowMax(xr, V, 1);
    const logS = Math.log(rowSumExp(xr, 0, V, 1, m));
    store<f32>(lse + (<usize>r << 2), <f32>(<f64>m + logS));
    const t = targetOf(targets, r, V);
    let l: f32 = 0;
    if (t == -2) l = f32.NaN;
    else if (t >= 0) l = <f32>((<f64>m - <f64>load<f32>(xr + (<usize>t << 2))) + logS);
    store<f32>(loss + (<usize>r << 2), l);
  }
}

export function cross_entropy_backward(
  logits: usize,
  targets: usize,
  lse: usize,
  dloss: usize,
  dlogits: usize,
  rows: i32,
  V: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const xr = rowPtr(logits, r, V), dr = rowPtr(dlogits, r, V);
    const t = targetOf(targets, r, V);
    if (t < 0) {
      fillRange(dr, 0, V, t == -1 ? 0 : f32.NaN);
      continue;
    }
    const l = load<f32>(lse + (<usize>r << 2)), g = load<f32>(dloss + (<usize>r << 2));
    const l4 = f32x4.splat(l), g4 = f32x4.splat(g);
    let j = 0;
    for (; j + 4 <= V; j += 4) {
      const o = <usize>j << 2;
      v128.store(dr + o, f32x4.mul(exp4(f32x4.sub(v128.load(xr + o), l4)), g4));
    }
    for (; j < V; j++) {
      const o = <usize>j << 2;
      store<f32>(dr + o, exp1(load<f32>(xr + o) - l) * g);
    }
    const o = <usize>t << 2;
    store<f32>(dr + o, (exp1(load<f32>(xr + o) - l) - 1) * g);
  }
}

// ---- KL divergence -------------------------------------------------------------------------
//
// With P = softmax(p), Q = softmax(q), d = p - q and mu = E_P[d], d' = d - mu has E_P[d'] = 0, so
//   KL(P || Q) = E_P[d'] + log E_P[e^{-d'}] = log1p(E_P[phi(d')]),  phi(x) = e^{-x} - 1 + x >= 0,
// a sum of non-negative terms with no cancellation (rounding in mu only enters at second order).
// P_j e^{-d'_j} is evaluated as exp(q_j - (lseP - mu)) so that P_j = 0 (p_j = -inf) still counts
// Q's mass. Then Q_j = P_j e^{-d'_j - KL}, so Q_j - P_j = P_j expm1(-d'_j - KL) for the backward.

/** Series branch bound for phi and expm1. */
const SMALL: f32 = 0.5;

/** phi(x) / x^2 = 1/2 - x/6 + x^2/24 - ... (Taylor to x^8; < 1e-10 relative for |x| <= 0.5). */
// @ts-ignore: decorator
@inline
function phiOverX2(x: v128): v128 {
  let y = f32x4.splat(<f32>(1.0 / 3628800.0));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(-1.0 / 362880.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(1.0 / 40320.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(-1.0 / 5040.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(1.0 / 720.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(-1.0 / 120.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(1.0 / 24.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(-1.0 / 6.0)));
  return f32x4.add(f32x4.mul(y, x), f32x4.splat(0.5));
}

/** expm1(x) / x = 1 + x/2 + x^2/6 + ... (Taylor to x^8). */
// @ts-ignore: decorator
@inline
function expm1OverX(x: v128): v128 {
  let y = f32x4.splat(<f32>(1.0 / 362880.0));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(1.0 / 40320.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(1.0 / 5040.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(1.0 / 720.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(1.0 / 120.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(1.0 / 24.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(<f32>(1.0 / 6.0)));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(0.5));
  return f32x4.add(f32x4.mul(y, x), f32x4.splat(1.0));
}

/** P_j * phi(d'_j) lane-wise (see above); kq = lseP - mu. */
// @ts-ignore: decorator
@inline
function klTerm(p: v128, q: v128, lseP: v128, mu: v128, kq: v128): v128 {
  const dp = f32x4.sub(f32x4.sub(p, q), mu);
  const P = exp4(f32x4.sub(p, lseP));
  const small = f32x4.le(f32x4.abs(dp), f32x4.splat(SMALL));
  const tSmall = f32x4.mul(P, f32x4.mul(f32x4.mul(dp, dp), phiOverX2(dp)));
  const pd = v128.and(f32x4.mul(P, dp), f32x4.ne(P, f32x4.splat(0)));
  const tLarge = f32x4.add(f32x4.sub(exp4(f32x4.sub(q, kq)), P), pd);
  return v128.bitselect(tSmall, tLarge, small);
}

/** (Q_j - P_j) lane-wise; kq = lseQ = lseP - mu + KL. */
// @ts-ignore: decorator
@inline
function klGrad(p: v128, q: v128, lseP: v128, mu: v128, kl: v128, kq: v128): v128 {
  const y = f32x4.neg(f32x4.add(f32x4.sub(f32x4.sub(p, q), mu), kl));
  const P = exp4(f32x4.sub(p, lseP));
  const small = f32x4.le(f32x4.abs(y), f32x4.splat(SMALL));
  const gSmall = f32x4.mul(P, f32x4.mul(y, expm1OverX(y)));
  const gLarge = f32x4.sub(exp4(f32x4.sub(q, kq)), P);
  return v128.bitselect(gSmall, gLarge, small);
}

/** Loads lane 0 of a scalar tail element as a vector (other lanes repeat it). */
// @ts-ignore: decorator
@inline
function ld1(ptr: usize): v128 {
  return f32x4.splat(load<f32>(ptr));
}

/** Row statistics of KL(P || Q): lseP, mu and KL (f64), left in the globals below. */
let statLseP: f64 = 0, statMu: f64 = 0, statKl: f64 = 0;

function klStats(pr: usize, qr: usize, V: i32): void {
  const mp = rowMax(pr, V, 1);
  const m4 = f32x4.splat(mp), zero = f32x4.splat(0);
  const V4 = V & ~3;
  // S = sum_j e_j and D = sum_j e_j (p_j - q_j) with e_j = exp(p_j - mp) (terms with e_j = 0,
  // i.e. p_j = -inf, skipped); then lseP = mp + log S and mu = E_P[p - q] = D / S.
  let sumE: f64 = 0, sumD: f64 = 0;
  let j = 0;
  while (j < V4) {
    const end = min(V4, j + BLOCK);
    let accE = zero, accD = zero;
    for (; j < end; j += 4) {
      const o = <usize>j << 2;
      const p = v128.load(pr + o), q = v128.load(qr + o);
      const e = exp4(f32x4.sub(p, m4));
      accE = f32x4.add(accE, e);
      accD = f32x4.add(accD, v128.and(f32x4.mul(e, f32x4.sub(p, q)), f32x4.ne(e, zero)));
    }
    sumE += hsum(accE);
    sumD += hsum(accD);
  }
  for (; j < V; j++) {
    const o = <usize>j << 2;
    const p = load<f32>(pr + o);
    const e = exp1(p - mp);
    sumE += <f64>e;
    if (e != 0) sumD += <f64>(e * (p - load<f32>(qr + o)));
  }
  const lseP = <f64>mp + Math.log(sumE);
  const mu = sumD / sumE;
  const l4 = f32x4.splat(<f32>lseP);
  const mu4 = f32x4.splat(<f32>mu), kq = f32x4.splat(<f32>(lseP - mu));
  let u: f64 = 0;
  j = 0;
  while (j < V4) {
    const end = min(V4, j + BLOCK);
    let acc = f32x4.splat(0);
    for (; j < end; j += 4) {
      const o = <usize>j << 2;
      acc = f32x4.add(acc, klTerm(v128.load(pr + o), v128.load(qr + o), l4, mu4, kq));
    }
    u += hsum(acc);
  }
  for (; j < V; j++) {
    const o = <usize>j << 2;
    u += <f64>f32x4.extract_lane(klTerm(ld1(pr + o), ld1(qr + o), l4, mu4, kq), 0);
  }
  statLseP = lseP;
  statMu = mu;
  statKl = Math.log1p(u);
}

export function kl_div(pLogits: usize, qLogits: usize, kl: usize, rows: i32, V: i32): void {
  for (let r = 0; r < rows; r++) {
    klStats(rowPtr(pLogits, r, V), rowPtr(qLogits, r, V), V);
    store<f32>(kl + (<usize>r << 2), <f32>statKl);
  }
}

export function kl_div_backward(
  pLogits: usize,
  qLogits: usize,
  dkl: usize,
  dq: usize,
  rows: i32,
  V: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const pr = rowPtr(pLogits, r, V), qr = rowPtr(qLogits, r, V), dr = rowPtr(dq, r, V);
    klStats(pr, qr, V);
    const g = load<f32>(dkl + (<usize>r << 2));
    const l4 = f32x4.splat(<f32>statLseP), mu4 = f32x4.splat(<f32>statMu);
    const kl4 = f32x4.splat(<f32>statKl), kq = f32x4.splat(<f32>(statLseP - statMu + statKl));
    const g4 = f32x4.splat(g);
    let j = 0;
    for (; j + 4 <= V; j += 4) {
      const o = <usize>j << 2;
      const d = klGrad(v128.load(pr + o), v128.load(qr + o), l4, mu4, kl4, kq);
      v128.store(dr + o, f32x4.mul(d, g4));
    }
    for (; j < V; j++) {
      const o = <usize>j << 2;
      const d = klGrad(ld1(pr + o), ld1(qr + o), l4, mu4, kl4, kq);
      store<f32>(dr + o, f32x4.extract_lane(d, 0) * g);
    }
  }
}

// ---- argmax --------------------------------------------------------------------------------

export function argmax_rows(x: usize, out: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = rowPtr(x, r, cols);
    // Per lane: the best value and its (lowest) index among columns j = lane (mod 4).
    let best4 = f32x4.splat(f32.NEGATIVE_INFINITY);
    let idx4 = i32x4(0, 1, 2, 3);
    let cur = i32x4(0, 1, 2, 3);
    const four = i32x4.splat(4);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const v = v128.load(xr + (<usize>j << 2));
      const gt = f32x4.gt(v, best4);
      best4 = v128.bitselect(v, best4, gt);
      idx4 = v128.bitselect(cur, idx4, gt);
      cur = i32x4.add(cur, four);
    }
    // Combine lanes: largest value, lowest index on ties (lanes with no columns hold -inf and an
    // index >= their first column, so they never beat a real column of equal value).
    let best = f32x4.extract_lane(best4, 0);
    let idx = i32x4.extract_lane(idx4, 0);
    let v = f32x4.extract_lane(best4, 1), i = i32x4.extract_lane(idx4, 1);
    if (v > best || (v == best && i < idx)) {
      best = v;
      idx = i;
    }
    v = f32x4.extract_lane(best4, 2);
    i = i32x4.extract_lane(idx4, 2);
    if (v > best || (v == best && i < idx)) {
      best = v;
      idx = i;
    }
    v = f32x4.extract_lane(best4, 3);
    i = i32x4.extract_lane(idx4, 3);
    if (v > best || (v == best && i < idx)) {
      best = v;
      idx = i;
    }
    if (idx >= cols) idx = 0;
    for (; j < cols; j++) {
      const t = load<f32>(xr + (<usize>j << 2));
      if (t > best) {
        best = t;
        idx = j;
      }
    }
    store<f32>(out + (<usize>r << 2), <f32>idx);
  }
}
