// Shared WGSL for the unit kernels (engine/kernels/units.ts): which unit an id selects. Included
// with `// #include lib/units.wgsl`.

// The unit (row or column) an f32 id selects, truncated, or n when the id is outside [0, n) or
// NaN (tested on the bits too, so that a compiler assuming no NaNs cannot let one through).
fn unitOf(id: f32, n: u32) -> u32 {
  if ((bitcast<u32>(id) & 0x7fffffffu) > 0x7f800000u) { return n; }
  if (!(id >= 0.0 && id < f32(n))) { return n; }
  return min(u32(id), n - 1u);
}
