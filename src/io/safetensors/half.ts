// float16 and bfloat16 conversions, bit exact: float16 bits to float32 bits (and a table of all
// 65536), stored float bytes of any width to float32, float32 to float16 or bfloat16 rounded to
// nearest even, and the narrowest dtype that stores a tensor exactly.

import { type FloatDtype, LITTLE_ENDIAN } from "./format.ts";

let F16_TO_F32_BITS: Uint32Array | null = null;

/** float32 bit patterns of all 65536 float16 values (exact, NaN payloads kept). */
export function f16Table(): Uint32Array {
  if (F16_TO_F32_BITS) return F16_TO_F32_BITS;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToF32Bits(h);
  return (F16_TO_F32_BITS = t);
}

export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let man = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (man << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (man << 13)) >>> 0;
  if (man === 0) return sign >>> 0;
  // Subnormal: normalise. Value is man * 2^-24.
  let e = 113;
  while ((man & 0x400) === 0) {
    man <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((man & 0x3ff) << 13)) >>> 0;
}

const SCRATCH_F32 = new Float32Array(1);
const SCRATCH_U32 = new Uint32Array(SCRATCH_F32.buffer);

/** float16 bits of the float32 nearest to `x`, rounded to nearest, ties to even. */
export function f32ToF16Bits(x: number): number {
  SCRATCH_F32[0] = x;
  const u = SCRATCH_U32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 | (man >>> 13) : 0);
  if (exp > 142) return sign | 0x7c00;
  if (exp >= 113) {
    let h = ((exp - 112) << 10) | (man >>> 13);
    const rest = man & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // a carry may reach infinity: right
    return sign | h;
  }
  if (exp < 102) return sign; // below half the smallest subnormal (2^-25): zero
  const m = 0x800000 | man;
  const shift = 126 - exp;
  let h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1))) h++;
  return sign | h;
}

/**
 * The dtype to write `data` back as: `stored` (F16 or BF16) when every value is exact in it, so
 * a half-precision checkpoint stays half size, else F32 (nothing is rounded).
 */
export function exactWriteDtype(data: Float32Array, stored: string): "F32" | "F16" | "BF16" {
  if (stored !== "F16" && stored !== "BF16") return "F32";
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (x !== x) continue; // NaN: NaN either way
    const exact = stored === "F16" ? Math.f16round(x) === x : (bits[i] & 0xffff) === 0;
    if (!exact) return "F32";
  }
  return stored;
}

/** bfloat16 bits of the float32 nearest to `x`, rounded to nearest, ties to even. */
export function f32ToBf16Bits(x: number): number {
  SCRATCH_F32[0] = x;
  const u = SCRATCH_U32[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Stored little-endian values of a float dtype (F64 rounded to nearest; F32, F16 and BF16 exact)
 * as float32.
 */
export function floatsFromBytes(dtype: FloatDtype, raw: Uint8Array): Float32Array {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = raw.length / (dtype === "F64" ? 8 : dtype === "F32" ? 4 : 2);
  if (dtype === "F32" && LITTLE_ENDIAN) {
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  }
  const out = new Float32Array(n);
  if (dtype === "F64" || dtype === "F32") {
    for (let i = 0; i < n; i++) {
      out[i] = dtype === "F64" ? dv.getFloat64(8 * i, true) : dv.getFloat32(4 * i, true);
    }
    return out;
  }
  const bits = new Uint32Array(out.buffer);
  if (dtype === "BF16") {
    for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
  } else {
    const table = f16Table();
    for (let i = 0; i < n; i++) bits[i] = table[dv.getUint16(2 * i, true)];
  }
  return out;
}
