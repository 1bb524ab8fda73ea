// f32_to_f16: y[i] = x[i] rounded to the nearest f16, ties to even, for i < n; beyond the f16
// range ±Infinity, NaN stays NaN. y holds f16 pairs in u32 words (element i in the low half of
// word i / 2 when i is even, the high half when odd), so no shader-f16 feature is needed; one
// invocation writes one word, and a last word holding only element n - 1 keeps its high half.
// Rounded on the bits, to match the WASM kernel and the host's Float16Array bit for bit.
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> p: P;

// #include lib/half.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let w = (wid.y * nwg.x + wid.x) * 256u + lid;
  let i = 2u * w;
  if (i >= p.n) { return; }
  let lo = halfBits(x[i]);
  if (i + 1u < p.n) {
    y[w] = lo | (halfBits(x[i + 1u]) << 16u);
  } else {
    y[w] = (y[w] & 0xffff0000u) | lo;
  }
}
