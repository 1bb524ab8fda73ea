// scatter_cols: dst[r, ids[j]] = src[r, j] for r < rows, j < k (src rows x k, dst rows x cols);
// an id outside [0, cols) (or NaN) is skipped, and every entry of dst no id selects is left as it
// was. Ids are f32, truncated; the caller gives distinct ids. One invocation per element of src.
struct P { rows: u32, cols: u32, k: u32 }
// dst as raw words: f32 values, or with DST_HALF (the scatter_cols_f16 kernel,
// engine/kernels/units.ts) f16 pairs, element i in the low (even i) or high (odd i) half of word
// i / 2, rounded to the nearest f16, ties to even, as f32_to_f16 does. Adjacent columns share
// words: each invocation changes only its half, with atomics.
override DST_HALF: bool = false;
// src as f32 bits: the f32 path copies them unchanged (NaN payloads included).
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> p: P;

// The f16 bits of v, rounded to nearest even (f32_to_f16.wgsl's halfBits).
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

// Writes the f32 with bits v to element i of dst: v itself, or with DST_HALF its f16 bits into
// one half of word i / 2, cleared and then set; the other half's bits are never touched, so a
// concurrent write of that half by another invocation is kept whichever comes first.
fn storeDst(i: u32, v: u32) {
  if (DST_HALF) {
    let shift = (i & 1u) * 16u;
    atomicAnd(&dst[i >> 1u], ~(0xffffu << shift));
    atomicOr(&dst[i >> 1u], halfBits(bitcast<f32>(v)) << shift);
  } else {
    atomicStore(&dst[i], v);
  }
}

// The unit (row or column) an f32 id selects, truncated, or n when the id is outside [0, n) or
// NaN (tested on the bits too, so that a compiler assuming no NaNs cannot let one through).
fn unitOf(id: f32, n: u32) -> u32 {
  if ((bitcast<u32>(id) & 0x7fffffffu) > 0x7f800000u) { return n; }
  if (!(id >= 0.0 && id < f32(n))) { return n; }
  return min(u32(id), n - 1u);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.rows * p.k) { return; }
  let r = i / p.k;
  let j = i - r * p.k;
  let c = unitOf(ids[j], p.cols);
  if (c < p.cols) { storeDst(r * p.cols + c, src[i]); }
}
