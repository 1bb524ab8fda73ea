// AssemblyScript kernels: LayerNorm and RMSNorm over the rows of a row-major [rows, d] matrix,
// their input gradients and their gamma/beta gradients. Pointers are byte offsets into the
// shared linear memory; rows and d are element counts. Inner loops run in f32x4 lanes.

import { hsum, zeroRun } from "./lib/lanes";

/** Sum of d f32 at p. */
@inline function rowSum(p: usize, d: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  let j = 0;
  for (; j + 8 <= d; j += 8) {
    const q = p + (<usize>j << 2);
    a0 = f32x4.add(a0, v128.load(q));
    a1 = f32x4.add(a1, v128.load(q, 16));
  }
  for (; j + 4 <= d; j += 4) a0 = f32x4.add(a0, v128.load(p + (<usize>j << 2)));
  let s = hsum(f32x4.add(a0, a1));
  for (; j < d; j++) s += load<f32>(p + (<usize>j << 2));
  return s;
}

/** Sum of (x - c)^2 over d f32 at p. */
@inline function rowSqDev(p: usize, d: i32, c: f32): f32 {
  const cv = f32x4.splat(c);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  let j = 0;
  for (; j + 8 <= d; j += 8) {
    const q = p + (<usize>j << 2);
    const t0 = f32x4.sub(v128.load(q), cv), t1 = f32x4.sub(v128.load(q, 16), cv);
    a0 = f32x4.add(a0, f32x4.mul(t0, t0));
    a1 = f32x4.add(a1, f32x4.mul(t1, t1));
  }
  for (; j + 4 <= d; j += 4) {
    const t = f32x4.sub(v128.load(p + (<usize>j << 2)), cv);
    a0 = f32x4.add(a0, f32x4.mul(t, t));
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; j < d; j++) {
    const t = load<f32>(p + (<usize>j << 2)) - c;
    s += t * t;
  }
  return s;
}

// ---- LayerNorm ------------------------------------------------------------------------------

export function layernorm(
  x: usize,
  gamma: usize,
  beta: usize,
  out: usize,
  mean: usize,
  rstd: usize,
  rows: i32,
  d: i32,
  eps: f32,
): void {
  const rowBytes = <usize>d << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes, or = out + <usize>r * rowBytes;
    const mu = rowSum(xr, d) / <f32>d;
    const rs: f32 = 1.0 / Mathf.sqrt(rowSqDev(xr, d, mu) / <f32>d + eps);
    store<f32>(mean + (<usize>r << 2), mu);
    store<f32>(rstd + (<usize>r << 2), rs);
    const muv = f32x4.splat(mu), rsv = f32x4.splat(rs);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), muv), rsv);
      v128.store(or + o, f32x4.add(f32x4.mul(xh, v128.load(gamma + o)), v128.load(beta + o)));
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      const xh = (load<f32>(xr + o) - mu) * rs;
      store<f32>(or + o, xh * load<f32>(gamma + o) + load<f32>(beta + o));
    }
  }
}

/** dx = rstd (g dy - mean(g dy) - xhat mean(g dy xhat)), xhat = (x - mean) rstd. */
export function layernorm_backward(
  x: usize,
  gamma: usize,
  dy: usize,
  mean: usize,
  rstd: usize,
  dx: usize,
  rows: i32,
  d: i32,
): void {
  const rowBytes = <usize>d << 2;
  const invD: f32 = 1.0 / <f32>d;
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * rowBytes;
    const xr = x + base, dyr = dy + base, dxr = dx + base;
    const mu = load<f32>(mean + (<usize>r << 2)), rs = load<f32>(rstd + (<usize>r << 2));
    const muv = f32x4.splat(mu), rsv = f32x4.splat(rs);
    let av = f32x4.splat(0), bv = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      const gdy = f32x4.mul(v128.load(gamma + o), v128.load(dyr + o));
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), muv), rsv);
      av = f32x4.add(av, gdy);
      bv = f32x4.add(bv, f32x4.mul(gdy, xh));
    }
    let a = hsum(av), b = hsum(bv);
    for (let t = j; t < d; t++) {
      const o = <usize>t << 2;
      const gdy = load<f32>(gamma + o) * load<f32>(dyr + o);
      a += gdy;
      b += gdy * (load<f32>(xr + o) - mu) * rs;
    }
    const ma = f32x4.splat(a * invD), mb = f32x4.splat(b * invD);
    j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      const gdy = f32x4.mul(v128.load(gamma + o), v128.load(dyr + o));
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), muv), rsv);
      v128.store(dxr + o, f32x4.mul(rsv, f32x4.sub(f32x4.sub(gdy, ma), f32x4.mul(xh, mb))));
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      const gdy = load<f32>(gamma + o) * load<f32>(dyr + o);
      const xh = (load<f32>(xr + o) - mu) * rs;
      store<f32>(dxr + o, rs * (gdy - a * invD - xh * (b * invD)));
    }
  }
}

export function layernorm_param_grad(
  x: usize,
  dy: usize,
  mean: usize,
  rstd: usize,
  dgamma: usize,
  dbeta: usize,
  rows: i32,
  d: i32,
  accumulate: i32,
): void {
  if (accumulate == 0) {
    zeroRun(dgamma, d);
    zeroRun(dbeta, d);
  }
  const rowBytes = <usize>d << 2;
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * rowBytes;
    const xr = x + base, dyr = dy + base;
    const mu = load<f32>(mean + (<usize>r << 2)), rs = load<f32>(rstd + (<usize>r << 2));
    const muv = f32x4.splat(mu), rsv = f32x4.splat(rs);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      const dyv = v128.load(dyr + o);
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), muv), rsv);
      v128.store(dgamma + o, f32x4.add(v128.load(dgamma + o), f32x4.mul(dyv, xh)));
      v128.store(dbeta + o, f32x4.add(v128.load(dbeta + o), dyv));
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      const dyv = load<f32>(dyr + o);
      store<f32>(dgamma + o, load<f32>(dgamma + o) + dyv * ((load<f32>(xr + o) - mu) * rs));
      store<f32>(dbeta + o, load<f32>(dbeta + o) + dyv);
    }
  }
}

// ---- RMSNorm --------------------------------------------------------------------------------

export function rmsnorm(
  x: usize,
  gamma: usize,
  out: usize,
  rrms: usize,
  rows: i32,
  d: i32,
  eps: f32,
): void {
  const rowBytes = <usize>d << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes, or = out + <usize>r * rowBytes;
    const rr: f32 = 1.0 / Mathf.sqrt(rowSqDev(xr, d, 0) / <f32>d + eps);
    store<f32>(rrms + (<usize>r << 2), rr);
    const rrv = f32x4.splat(rr);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      v128.store(or + o, f32x4.mul(f32x4.mul(v128.load(xr + o), rrv), v128.load(gamma + o)));
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      store<f32>(or + o, load<f32>(xr + o) * rr * load<f32>(gamma + o));
    }
  }
}

/** dx = rrms g dy - x rrms^3 mean(g dy x). */
export function rmsnorm_backward(
  x: usize,
  gamma: usize,
  dy: usize,
  rrms: usize,
  dx: usize,
  rows: i32,
  d: i32,
): void {
  const rowBytes = <usize>d << 2;
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * rowBytes;
    const xr = x + base, dyr = dy + base, dxr = dx + base;
    const rr = load<f32>(rrms + (<usize>r << 2));
    let sv = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      const t = f32x4.mul(v128.load(gamma + o), v128.load(dyr + o));
      sv = f32x4.add(sv, f32x4.mul(t, v128.load(xr + o)));
    }
    let s = hsum(sv);
    for (let t = j; t < d; t++) {
      const o = <usize>t << 2;
      s += load<f32>(gamma + o) * load<f32>(dyr + o) * load<f32>(xr + o);
    }
    const c: f32 = rr * rr * rr * s / <f32>d;
    const rrv = f32x4.splat(rr), cv = f32x4.splat(c);
    j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      const gdy = f32x4.mul(v128.load(gamma + o), v128.load(dyr + o));
      v128.store(dxr + o, f32x4.sub(f32x4.mul(rrv, gdy), f32x4.mul(v128.load(xr + o), cv)));
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      const gdy = load<f32>(gamma + o) * load<f32>(dyr + o);
      store<f32>(dxr + o, rr * gdy - load<f32>(xr + o) * c);
    }
  }
}

export function rmsnorm_param_grad(
  x: usize,
  dy: usize,
  rrms: usize,
  dgamma: usize,
  rows: i32,
  d: i32,
  accumulate: i32,
): void {
  if (accumulate == 0) zeroRun(dgamma, d);
  const rowBytes = <usize>d << 2;
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * rowBytes;
    const xr = x + base, dyr = dy + base;
    const rr = load<f32>(rrms + (<usize>r << 2));
    const rrv = f32x4.splat(rr);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>j << 2;
      const t = f32x4.mul(v128.load(dyr + o), f32x4.mul(v128.load(xr + o), rrv));
      v128.store(dgamma + o, f32x4.add(v128.load(dgamma + o), t));
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      store<f32>(dgamma + o, load<f32>(dgamma + o) + load<f32>(dyr + o) * (load<f32>(xr + o) * rr));
    }
  }
}
