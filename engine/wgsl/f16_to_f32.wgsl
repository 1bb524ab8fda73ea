// f16_to_f32: y[i] = x[i] widened exactly, for i < n. x holds f16 pairs in u32 words (element i
// in the low half of word i / 2 when i is even, the high half when odd). Widened on the bits with
// integer arithmetic, since GPUs may flush subnormals in floating point conversions.
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

fn widen(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let em = h & 0x7fffu;
  if (em >= 0x7c00u) { return bitcast<f32>(sign | 0x7f800000u | ((em & 0x3ffu) << 13u)); }
  // Normal: rebias the exponent by 127 - 15. Subnormal: em units of 2^-24, a normal f32.
  if (em >= 0x400u) { return bitcast<f32>(sign | ((em << 13u) + 0x38000000u)); }
  return bitcast<f32>(sign | bitcast<u32>(f32(em) * 0x1p-24f));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.n) { return; }
  y[i] = widen((x[i >> 1u] >> (16u * (i & 1u))) & 0xffffu);
}
