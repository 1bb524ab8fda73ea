// AssemblyScript kernels: embedding lookup and gradient, rotary embedding, transposes, head
// repetition for grouped-query attention and column copies. Pointers are byte offsets into the
// shared linear memory; all copies move contiguous runs with f32x4 loads and stores.

import { zeroRun } from "./lib/lanes";

/** dst[i] = src[i] for i < n. */
function copyRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, v128.load(src + o));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(src + o));
  }
}

/** dst[i] += src[i] for i < n. */
function addRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** Byte offset of element index i. */
// @ts-ignore: decorator
@inline
function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/** The row of an id stored as f32, or -1 when it is outside [0, V) or NaN. */
// @ts-ignore: decorator
@inline
function rowOf(id: f32, V: i32): i32 {
  return id >= 0 && id < <f32>V ? <i32>id : -1;
}

export function embedding(table: usize, ids: usize, out: usize, n: i32, d: i32, V: i32): void {
  for (let t = 0; t < n; t++) {
    const row = rowOf(load<f32>(at(ids, t)), V);
    const o = at(out, t * d);
    if (row >= 0) copyRun(o, at(table, row * d), d);
    else zeroRun(o, d);
  }
}

export function embedding_backward(
  ids: usize,
  dout: usize,
  dtable: usize,
  n: i32,
  d: i32,
  V: i32,
): void {
  for (let t = 0; t < n; t++) {
    const row = rowOf(load<f32>(at(ids, t)), V);
    if (row >= 0) addRun(at(dtable, row * d), at(dout, t * d), d);
  }
}

/**
 * Rotary embedding of each head's first Dr values (the rest copied). For each (t, i) the angle
 * (posOffset + t) * invFreq[i] is formed in f32 as Hugging Face does (invFreq: the host's table
 * of Dr/2 inverse frequencies, src/model/rope.ts), then cos and sin are taken in f64; four
 * frequencies at a time are applied to every (batch, head) row with f32x4. Pair i is (i, i + Dr/2)
 * (rotate_half), or (2i, 2i + 1) when `interleaved` is 1 (GPT-J's rotate_every_two: the four
 * pairs are eight adjacent values, turned as two vectors with their lanes swapped in pairs).
 */
export function rope(
  x: usize,
  invFreq: usize,
  out: usize,
  batch: i32,
  T: i32,
  H: i32,
  Dh: i32,
  Dr: i32,
  posOffset: u32,
  sign: f32,
  interleaved: u32,
): void {
  const half = Dr >> 1;
  const rowStride = H * Dh;
  // Pair j of a head: values (j * step, j * step + gap).
  const pairs = interleaved != 0, step = pairs ? 2 : 1, gap = pairs ? 1 : half;
  for (let t = 0; t < T; t++) {
    const pos = <f32>(<f64>posOffset + <f64>t);
    let i = 0;
    for (; i < half; i += 4) {
      const lanes = min(4, half - i);
      let c4 = f32x4.splat(0), s4 = f32x4.splat(0);
      // Up to four (cos, sin) pairs.
      for (let k = 0; k < lanes; k++) {
        const a = <f64>(pos * load<f32>(at(invFreq, i + k)));
        const c = <f32>Math.cos(a), s = <f32>(<f64>sign * Math.sin(a));
        if (k == 0) {
          c4 = f32x4.replace_lane(c4, 0, c);
          s4 = f32x4.replace_lane(s4, 0, s);
        } else if (k == 1) {
          c4 = f32x4.replace_lane(c4, 1, c);
          s4 = f32x4.replace_lane(s4, 1, s);
        } else if (k == 2) {
          c4 = f32x4.replace_lane(c4, 2, c);
          s4 = f32x4.replace_lane(s4, 2, s);
        } else {
          c4 = f32x4.replace_lane(c4, 3, c);
          s4 = f32x4.replace_lane(s4, 3, s);
        }
      }
      // Interleaved: lanes (2j, 2j + 1) of a vector take pair j's (c, c) and (-s, s).
      const n4 = f32x4.neg(s4);
      const cLo = f32x4.shuffle(c4, c4, 0, 0, 1, 1), cHi = f32x4.shuffle(c4, c4, 2, 2, 3, 3);
      const sLo = f32x4.shuffle(n4, s4, 0, 4, 1, 5), sHi = f32x4.shuffle(n4, s4, 2, 6, 3, 7);
      for (let b = 0; b < batch; b++) {
        const rowBase = (b * T + t) * rowStride;
        for (let h = 0; h < H; h++) {
          const lo = rowBase + h * Dh + i * step, hi = lo + gap;
          if (lanes == 4 && pairs) {
            const v1 = v128.load(at(x, lo)), v2 = v128.load(at(x, lo + 4));
            const w1 = f32x4.shuffle(v1, v1, 1, 0, 3, 2), w2 = f32x4.shuffle(v2, v2, 1, 0, 3, 2);
            v128.store(at(out, lo), f32x4.add(f32x4.mul(v1, cLo), f32x4.mul(w1, sLo)));
            v128.store(at(out, lo + 4), f32x4.add(f32x4.mul(v2, cHi), f32x4.mul(w2, sHi)));
          } else if (lanes == 4) {
            const x1 = v128.load(at(x, lo)), x2 = v128.load(at(x, hi));
            v128.store(at(out, lo), f32x4.sub(f32x4.mul(x1, c4), f32x4.mul(x2, s4)));
            v128.store(at(out, hi), f32x4.add(f32x4.mul(x2, c4), f32x4.mul(x1, s4)));
          } else {
            for (let k = 0; k < lanes; k++) {
              const c = k == 0
                ? f32x4.extract_lane(c4, 0)
                : k == 1
                ? f32x4.extract_lane(c4, 1)
                : f32x4.extract_lane(c4, 2);
              const s = k == 0
                ? f32x4.extract_lane(s4, 0)
                : k == 1
                ? f32x4.extract_lane(s4, 1)
                : f32x4.extract_lane(s4, 2);
              const l = lo + k * step, r = hi + k * step;
              const x1 = load<f32>(at(x, l)), x2 = load<f32>(at(x, r));
              store<f32>(at(out, l), x1 * c - x2 * s);
              store<f32>(at(out, r), x2 * c + x1 * s);
            }
          }
        }
      }
    }
    if (Dr < Dh) {
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < H; h++) {
          const at0 = (b * T + t) * rowStride + h * Dh + Dr;
          copyRun(at(out, at0), at(x, at0), Dh - Dr);
        }
      }
    }
  }
}

export function transpose_0213(x: usize, out: usize, A: i32, B: i32, C: i32, D: i32): void {
  for (let a = 0; a < A; a++) {
    for (let c = 0; c < C; c++) {
      for (let b = 0; b < B; b++) {
        copyRun(at(out, ((a * C + c) * B + b) * D), at(x, ((a * B + b) * C + c) * D), D);
      }
    }
  }
}

export function repeat_kv(x: usize, out: usize, A: i32, Hkv: i32, g: i32, T: i32, D: i32): void {
  const block = T * D;
  for (let a = 0; a < A; a++) {
    for (let k = 0; k < Hkv; k++) {
      const src = at(x, (a * Hkv + k) * block);
      for (let j = 0; j < g; j++) copyRun(at(out, ((a * Hkv + k) * g + j) * block), src, block);
    }
  }
}

export function repeat_kv_backward(
  dout: usize,
  dx: usize,
  A: i32,
  Hkv: i32,
  g: i32,
  T: i32,
  D: i32,
): void {
  const block = T * D;
  for (let a = 0; a < A; a++) {
    for (let k = 0; k < Hkv; k++) {
      const dst = at(dx, (a * Hkv + k) * block);
      if (g == 0) {
        zeroRun(dst, block);
        continue;
      }
      copyRun(dst, at(dout, (a * Hkv + k) * g * block), block);
      for (let j = 1; j < g; j++) addRun(dst, at(dout, ((a * Hkv + k) * g + j) * block), block);
    }
  }
}

export function copy_cols(
  x: usize,
  out: usize,
  rows: i32,
  srcCols: i32,
  srcOffset: i32,
  dstCols: i32,
  dstOffset: i32,
  width: i32,
): void {
  for (let r = 0; r < rows; r++) {
    copyRun(at(out, r * dstCols + dstOffset), at(x, r * srcCols + srcOffset), width);
  }
}
