// Shared WGSL for the scatter kernels (scatter_rows, scatter_cols, scatter_entries): the write of
// one element of dst. The including file declares `dst: array<atomic<u32>>` and includes
// lib/half.wgsl; included with `// #include lib/scatter.wgsl`.

// dst as raw words: f32 values, or with DST_HALF (the _f16 kernels, engine/kernels/units.ts) f16
// pairs, element i in the low (even i) or high (odd i) half of word i / 2, rounded to the nearest
// f16, ties to even, as f32_to_f16 does.
override DST_HALF: bool = false;

// Element i of dst gets the f32 with bits v: v itself, or with DST_HALF its f16 bits into one half
// of word i / 2, cleared and then set; the other half's bits are never touched, so a concurrent
// write of that half by another invocation is kept whichever comes first.
fn storeDst(i: u32, v: u32) {
  if (DST_HALF) {
    let shift = (i & 1u) * 16u;
    atomicAnd(&dst[i >> 1u], ~(0xffffu << shift));
    atomicOr(&dst[i >> 1u], halfBits(bitcast<f32>(v)) << shift);
  } else {
    atomicStore(&dst[i], v);
  }
}
