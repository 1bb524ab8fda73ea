// Conversions between f16 bits and f32 on the bits: widening (exact) and rounding to the nearest
// f16, ties to even (the same bits as the WGSL kernels and the host's Float16Array), one value or
// four lanes at a time. Shared by the f16 kernels (engine/assembly/f16.ts), the f16 matmuls'
// packing (engine/assembly/matmul.ts) and the unit scatters (engine/assembly/units.ts). A helper
// module, not an entry point: the build compiles only the files directly in engine/assembly/.

const F32_INF: u32 = 0x7f800000;

/** 2^112 = 2^(127 - 15): rescales f16 bits shifted into f32 position (normal and subnormal). */
const REBIAS: f32 = reinterpret<f32>(<u32>0x77800000);

// @ts-ignore: decorator
@inline
export function widen(h: u32): f32 {
  const em = h & 0x7fff;
  // em << 13 read as f32 is the value times 2^-112 (a subnormal f32 for a subnormal f16), so the
  // product is exact; Infinity and NaN keep their mantissa and get the top exponent.
  let r = reinterpret<u32>(reinterpret<f32>(em << 13) * REBIAS);
  if (em >= 0x7c00) r |= F32_INF;
  return reinterpret<f32>(r | ((h & 0x8000) << 16));
}

/** widen on four lanes of f16 bits (zero-extended to i32). */
// @ts-ignore: decorator
@inline
export function widen4(h: v128): v128 {
  const em = v128.and(h, i32x4.splat(0x7fff));
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const r = f32x4.mul(i32x4.shl(em, 13), f32x4.splat(REBIAS));
  const special = v128.and(i32x4.gt_s(em, i32x4.splat(0x7bff)), i32x4.splat(F32_INF));
  return v128.or(v128.or(r, special), sign);
}

// ---- f32 -> f16 -------------------------------------------------------------------------------

// Thresholds on |x|'s bits: above 0x7f800000 NaN; from 65520 (65504 + half an ulp) on the nearest
// is Infinity; from 2^-14 on the result is a normal f16.
const HALF_OVERFLOW: u32 = 0x477ff000;
const HALF_MIN_NORMAL: u32 = 0x38800000;
/** 0.5: adding it to |x| < 2^-14 rounds |x| to a multiple of 2^-24 (its ulp), ties to even. */
const SUB_MAGIC: u32 = 0x3f000000;

/** f16 bits of v rounded to the nearest f16, ties to even; a NaN gives sign | 0x7e00. */
// @ts-ignore: decorator
@inline
export function halfBits(v: f32): u32 {
  const bits = reinterpret<u32>(v);
  const sign = (bits >>> 16) & 0x8000;
  const ax = bits & 0x7fffffff;
  if (ax > F32_INF) return sign | 0x7e00;
  if (ax >= HALF_OVERFLOW) return sign | 0x7c00;
  if (ax >= HALF_MIN_NORMAL) {
    // Rebias the exponent by 127 - 15 and round the 13 dropped mantissa bits to even.
    return sign | ((ax - 0x38000000 + 0xfff + ((ax >>> 13) & 1)) >>> 13);
  }
  // Subnormal or zero: the float addition does the rounding to a multiple of 2^-24.
  return sign | (reinterpret<u32>(reinterpret<f32>(ax) + reinterpret<f32>(SUB_MAGIC)) - SUB_MAGIC);
}

/** halfBits on four lanes: f32 bits in, f16 bits in the low half of each i32 lane out. */
// @ts-ignore: decorator
@inline
export function halfBits4(x: v128): v128 {
  const sign = v128.and(i32x4.shr_u(x, 16), i32x4.splat(0x8000));
  const ax = v128.and(x, i32x4.splat(0x7fffffff));
  const lsb = v128.and(i32x4.shr_u(ax, 13), i32x4.splat(1));
  const normal = i32x4.shr_u(
    i32x4.add(i32x4.add(ax, i32x4.splat(0xfff - 0x38000000)), lsb),
    13,
  );
  const magic = i32x4.splat(SUB_MAGIC);
  const sub = i32x4.sub(f32x4.add(ax, magic), magic);
  // |x| < 2^31 as u32, so signed lane compares order it correctly.
  let r = v128.bitselect(normal, sub, i32x4.ge_s(ax, i32x4.splat(HALF_MIN_NORMAL)));
  r = v128.bitselect(i32x4.splat(0x7c00), r, i32x4.ge_s(ax, i32x4.splat(HALF_OVERFLOW)));
  r = v128.bitselect(i32x4.splat(0x7e00), r, i32x4.gt_s(ax, i32x4.splat(F32_INF)));
  return v128.or(r, sign);
}
