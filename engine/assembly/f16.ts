// AssemblyScript kernels for f16 storage: f32_to_f16, f16_to_f32 and embedding_f16 (specs in
// engine/kernels/f16.ts). Pointers are byte offsets into the shared linear memory; element i of an
// f16 buffer is the u16 at ptr + 2 * i. Both conversions work on the bits, eight lanes a step,
// and give the same bits as the WGSL kernels and the host's Float16Array: round to nearest, ties
// to even, subnormals kept (never flushed), ±Infinity beyond the f16 range, NaN stays NaN with its
// sign (the scalar and four-lane conversions are in ./lib/half). f16_to_f32 also widens B blocks
// for matmul_f16 / matmul_nt_f16 (engine/assembly/matmul.ts).

import { halfBits, halfBits4, widen, widen4 } from "./lib/half";

// ---- f32 -> f16 -------------------------------------------------------------------------------

/** y[i] = x[i] rounded to the nearest f16 (bits), for i < n. */
export function f32_to_f16(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const lo = halfBits4(v128.load(x + (<usize>i << 2)));
    const hi = halfBits4(v128.load(x + (<usize>i << 2), 16));
    // Every lane is at most 0xffff: the unsigned saturating narrow keeps it as is.
    v128.store(y + (<usize>i << 1), i16x8.narrow_i32x4_u(lo, hi));
  }
  for (; i < n; i++) store<u16>(y + (<usize>i << 1), halfBits(load<f32>(x + (<usize>i << 2))));
}

// ---- f16 -> f32 -------------------------------------------------------------------------------

/** y[i] = x[i] widened exactly to f32, for i < n (x f16 bits). */
export function f16_to_f32(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(x + (<usize>i << 1));
    v128.store(y + (<usize>i << 2), widen4(i32x4.extend_low_i16x8_u(h)));
    v128.store(y + (<usize>i << 2), widen4(i32x4.extend_high_i16x8_u(h)), 16);
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), widen(<u32>load<u16>(x + (<usize>i << 1))));
}

// ---- embedding --------------------------------------------------------------------------------

/**
 * out[t, c] = table[ids[t], c] for t < n, c < d with an f16 table (widened exactly); an id
 * outside [0, V) or NaN gives a zero row, as embedding does (engine/assembly/layout.ts).
 */
export function embedding_f16(table: usize, ids: usize, out: usize, n: i32, d: i32, V: i32): void {
  for (let t = 0; t < n; t++) {
    const id = load<f32>(ids + (<usize>t << 2));
    const o = out + ((<usize>t * <usize>d) << 2);
    if (id >= 0 && id < <f32>V) {
      f16_to_f32(table + ((<usize><i32>id * <usize>d) << 1), o, d);
    } else {
      let c = 0;
      for (; c + 4 <= d; c += 4) v128.store(o + (<usize>c << 2), f32x4.splat(0));
      for (; c < d; c++) store<f32>(o + (<usize>c << 2), 0);
    }
  }
}
