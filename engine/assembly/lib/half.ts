// Widening f16 bits to f32, shared by the f16 kernels (engine/assembly/f16.ts) and the f16
// matmuls' packing (engine/assembly/matmul.ts). A helper module, not an entry point: the build
// compiles only the files directly in engine/assembly/.

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
