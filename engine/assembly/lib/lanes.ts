// f32x4 helpers shared by the kernel modules: the horizontal sum of a vector in f32 (matmul.ts,
// norm.ts) and zeroing a run of f32 (layout.ts, norm.ts). A helper module, not an entry point:
// the build compiles only the files directly in engine/assembly/.

/** Horizontal sum of the four lanes, in pairs: (l0 + l1) + (l2 + l3). */
// @ts-ignore: decorator
@inline
export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** dst[i] = 0 for i < n (f32). */
export function zeroRun(dst: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), z);
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}
