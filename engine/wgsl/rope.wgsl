// rope: rotary embedding of x [batch, T, H, Dh] (Hugging Face Llama, rotate_half) on each head's
// first Dr values (GPT-NeoX's partial rotary; Dr = Dh for Llama), the rest copied. For i < Dr/2:
// angle = f32(posOffset + t) * invFreq[i] (the table of inverse frequencies the host computes as
// Hugging Face does, src/model/rope.ts), c = cos, s = sign * sin, half = Dr/2; pair i is
// (lo, hi) = (i, i + half), or (2i, 2i + 1) when interleaved (GPT-J's rotate_every_two);
// out[lo] = x[lo] c - x[hi] s, out[hi] = x[hi] c + x[lo] s.
// One workgroup per (batch, t) row: it first tabulates (cos, sin) for the row's position in
// workgroup memory, then rotates all H heads.
//
// The angle is the same f32 as Hugging Face's on every device (one correctly rounded product);
// sin/cos use our own range reduction and polynomials (WGSL only promises 2^-11 absolute for
// sin/cos on [-pi, pi]).
struct P {
  batch: u32, T: u32, H: u32, Dh: u32, Dr: u32, posOffset: u32, sign: f32, interleaved: u32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> invFreq: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

const WG: u32 = 64u;
/** Largest Dh / 2 (the spec rejects Dh > 2048). */
const MAX_HALF: u32 = 1024u;
var<workgroup> cs: array<f32, MAX_HALF>;
var<workgroup> sn: array<f32, MAX_HALF>;

// (sin a, cos a): Cody-Waite reduction by pi/2 (exact products for |a| < ~6400, close beyond)
// and Cephes minimax polynomials on [-pi/4, pi/4].
fn sin_cos(a: f32) -> vec2f {
  let k = round(a * 0.63661977236758134);
  var r = a - k * 1.5703125;
  r = r - k * 4.837512969970703125e-4;
  r = r - k * 7.54978995489188216e-8;
  let z = r * r;
  let s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
  let c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z
    - 0.5 * z + 1.0;
  let q = i32(k) & 3;
  if (q == 0) { return vec2f(s, c); }
  if (q == 1) { return vec2f(c, -s); }
  if (q == 2) { return vec2f(-s, -c); }
  return vec2f(-c, s);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.batch * p.T) { return; }
  let half = p.Dr / 2u;
  let pos = f32(p.posOffset + row % p.T);
  for (var j = lid; j < half; j += WG) {
    let sc = sin_cos(pos * invFreq[j]);
    cs[j] = sc.y;
    sn[j] = p.sign * sc.x;
  }
  workgroupBarrier();
  let base = row * p.H * p.Dh;
  // Pair j: values (j, j + half), or (2j, 2j + 1) interleaved.
  let step = select(1u, 2u, p.interleaved != 0u);
  let gap = select(half, 1u, p.interleaved != 0u);
  for (var k = lid; k < p.H * half; k += WG) {
    let h = k / half;
    let j = k - h * half;
    let lo = base + h * p.Dh + j * step;
    let hi = lo + gap;
    let x1 = x[lo];
    let x2 = x[hi];
    out[lo] = x1 * cs[j] - x2 * sn[j];
    out[hi] = x2 * cs[j] + x1 * sn[j];
  }
  let kept = p.Dh - p.Dr;
  for (var k = lid; k < p.H * kept; k += WG) {
    let h = k / kept;
    let i = base + h * p.Dh + p.Dr + (k - h * kept);
    out[i] = x[i];
  }
}
