// Shared WGSL: the f16 bits of an f32, rounded to nearest, ties to even, on the bits (so that it
// matches the WASM kernels and the host's Float16Array bit for bit): beyond the f16 range
// ±Infinity, NaN becomes sign | 0x7e00, subnormals kept. Included by f32_to_f16 and the f16
// scatters with `// #include lib/half.wgsl`.
fn halfBits(v: f32) -> u32 {
  let bits = bitcast<u32>(v);
  let sign = (bits >> 16u) & 0x8000u;
  let ax = bits & 0x7fffffffu;
  if (ax > 0x7f800000u) { return sign | 0x7e00u; }
  // 65520 = 65504 + half an ulp: from there on the nearest is Infinity.
  if (ax >= 0x477ff000u) { return sign | 0x7c00u; }
  if (ax >= 0x38800000u) {
    // Normal: rebias the exponent by 127 - 15 and round the 13 dropped mantissa bits.
    return sign | ((ax - 0x38000000u + 0xfffu + ((ax >> 13u) & 1u)) >> 13u);
  }
  // Subnormal (or zero): the count of 2^-24 units, m * 2^(e - 126), rounded to even.
  let e = ax >> 23u;
  if (e < 102u) { return sign; }
  let m = (ax & 0x7fffffu) | 0x800000u;
  let s = 126u - e;
  let q = m >> s;
  let rem = m & ((1u << s) - 1u);
  let half = 1u << (s - 1u);
  return sign | (q + select(0u, 1u, rem > half || (rem == half && (q & 1u) == 1u)));
}
