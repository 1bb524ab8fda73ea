// rope: rotary embedding of x [batch, T, H, Dh] (Hugging Face Llama, rotate_half). For i < Dh/2:
// angle = f32(posOffset + t) * inv_freq[i] with inv_freq[i] = f32(1 / f32(theta^f32(2i/Dh))) as
// Hugging Face computes it in float32; c = cos, s = sign * sin;
// out[i] = x[i] c - x[i+half] s, out[i+half] = x[i+half] c + x[i] s.
// One workgroup per (batch, t) row: it first tabulates (cos, sin) for the row's position in
// workgroup memory, then rotates all H heads.
//
// inv_freq is computed exactly (correctly rounded at each of Hugging Face's three f32 steps) with
// 64-bit fixed-point integer arithmetic, because WGSL's pow and division may be off by several
// ulp and at position p one ulp of inv_freq moves the angle by ~p * 6e-8. The angle is then the
// same f32 as Hugging Face's on every device, and sin/cos use our own range reduction and
// polynomials (WGSL only promises 2^-11 absolute for sin/cos on [-pi, pi]).
struct P { batch: u32, T: u32, H: u32, Dh: u32, posOffset: u32, theta: f32, sign: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

const WG: u32 = 64u;
/** Largest Dh / 2 (the spec rejects Dh > 2048). */
const MAX_HALF: u32 = 1024u;
var<workgroup> cs: array<f32, MAX_HALF>;
var<workgroup> sn: array<f32, MAX_HALF>;

// ---- 64-bit unsigned fixed point as vec2u(hi, lo) -------------------------------------------

// Full 32 x 32 -> 64-bit product.
fn mul32(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2u(p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), (p00 & 0xffffu) | (mid << 16u));
}

// floor(a * b / 2^64).
fn mul64(a: vec2u, b: vec2u) -> vec2u {
  let hh = mul32(a.x, b.x);
  let hl = mul32(a.x, b.y);
  let lh = mul32(a.y, b.x);
  let ll = mul32(a.y, b.y);
  var mid = hl.y + lh.y;
  var carry = select(0u, 1u, mid < lh.y);
  mid = mid + ll.x;
  carry += select(0u, 1u, mid < ll.x);
  var lo = hh.y + hl.x;
  var c2 = select(0u, 1u, lo < hl.x);
  lo = lo + lh.x;
  c2 += select(0u, 1u, lo < lh.x);
  lo = lo + carry;
  c2 += select(0u, 1u, lo < carry);
  return vec2u(hh.x + c2, lo);
}

fn shl64(v: vec2u, s: u32) -> vec2u {
  return vec2u((v.x << s) | (v.y >> (32u - s)), v.y << s);
}

// 2^(2^-j) for j = 1..52 in Q2.62.
var<private> EXP2_POW: array<vec2u, 52> = array<vec2u, 52>(
  vec2u(0x5a827999u, 0xfcef3242u), vec2u(0x4c1bf828u, 0xc6dc54b8u), vec2u(0x45cae0f1u, 0xf545eb73u),
  vec2u(0x42d561b3u, 0xe6243d8au), vec2u(0x4166c34cu, 0x5615d0ecu), vec2u(0x40b268f9u, 0xde0183bau),
  vec2u(0x4058f6a7u, 0xecccd5b6u), vec2u(0x402c6be9u, 0x6af2fb58u), vec2u(0x4016321bu, 0x687027a8u),
  vec2u(0x400b1817u, 0x8ba33b14u), vec2u(0x40058bceu, 0x410147e8u), vec2u(0x4002c5d7u, 0xbff71dafu),
  vec2u(0x400162e8u, 0x07ee7e5bu), vec2u(0x4000b173u, 0x0df6a524u), vec2u(0x400058b9u, 0x497b8152u),
  vec2u(0x40002c5cu, 0x955dd701u), vec2u(0x4000162eu, 0x46d6f26cu), vec2u(0x40000b17u, 0x22757b1bu),
  vec2u(0x4000058bu, 0x90fd3e0cu), vec2u(0x400002c5u, 0xc86f3f26u), vec2u(0x40000162u, 0xe433c79bu),
  vec2u(0x400000b1u, 0x7218edd0u), vec2u(0x40000058u, 0xb90c3968u), vec2u(0x4000002cu, 0x5c860d54u),
  vec2u(0x40000016u, 0x2e4302d2u), vec2u(0x4000000bu, 0x17218073u), vec2u(0x40000005u, 0x8b90bffcu),
  vec2u(0x40000002u, 0xc5c85fefu), vec2u(0x40000001u, 0x62e42ff3u), vec2u(0x40000000u, 0xb17217f9u),
  vec2u(0x40000000u, 0x58b90bfcu), vec2u(0x40000000u, 0x2c5c85feu), vec2u(0x40000000u, 0x162e42ffu),
  vec2u(0x40000000u, 0x0b17217fu), vec2u(0x40000000u, 0x058b90c0u), vec2u(0x40000000u, 0x02c5c860u),
  vec2u(0x40000000u, 0x0162e430u), vec2u(0x40000000u, 0x00b17218u), vec2u(0x40000000u, 0x0058b90cu),
  vec2u(0x40000000u, 0x002c5c86u), vec2u(0x40000000u, 0x00162e43u), vec2u(0x40000000u, 0x000b1721u),
  vec2u(0x40000000u, 0x00058b91u), vec2u(0x40000000u, 0x0002c5c8u), vec2u(0x40000000u, 0x000162e4u),
  vec2u(0x40000000u, 0x0000b172u), vec2u(0x40000000u, 0x000058b9u), vec2u(0x40000000u, 0x00002c5du),
  vec2u(0x40000000u, 0x0000162eu), vec2u(0x40000000u, 0x00000b17u), vec2u(0x40000000u, 0x0000058cu),
  vec2u(0x40000000u, 0x000002c6u)
);

// inv_freq[i] = f32(1 / f32(theta^e)), e = f32(2i / Dh), each step correctly rounded, for theta a
// normal f32 >= 1; otherwise (never for real models) the WGSL builtins.
fn inv_freq(i: u32) -> f32 {
  if (i == 0u) { return 1.0; }
  let tb = bitcast<u32>(p.theta);
  let texp = (tb >> 23u) & 0xffu;
  if (texp < 127u || texp == 255u || (tb >> 31u) != 0u) {
    return 1.0 / pow(p.theta, f32(2u * i) / f32(p.Dh));
  }
  // e = RN(2i / Dh) by long division: 24 significant bits, then round half to even.
  let den = p.Dh;
  var r = 2u * i;
  var lead = 0u;
  loop {
    r = r << 1u;
    lead += 1u;
    if (r >= den) { break; }
  }
  r -= den;
  var q = 1u;
  for (var b = 0u; b < 23u; b++) {
    r = r << 1u;
    q = q << 1u;
    if (r >= den) { r -= den; q |= 1u; }
  }
  r = r << 1u;
  if (r >= den) {
    r -= den;
    if (r != 0u || (q & 1u) != 0u) { q += 1u; }
  }
  if (q == 0x1000000u) { q = 0x800000u; lead -= 1u; }
  // e in Q0.64: q * 2^(41 - lead), lead in [1, 11].
  let s = 41u - lead;
  var e = vec2u(q << (s - 32u), 0u);
  if (s < 32u) { e = vec2u(q >> (32u - s), q << s); }
  // log2(theta) = k + log2(m), m in [1, 2): 52 bits of log2(m) by repeated squaring in Q2.62.
  let k = texp - 127u;
  var xm = vec2u(((tb & 0x7fffffu) | 0x800000u) << 7u, 0u);
  var lf = vec2u(0u, 0u);
  for (var j = 1u; j <= 52u; j++) {
    let sq = mul64(xm, xm);
    if (sq.x >= 0x20000000u) {
      xm = shl64(sq, 1u);
      if (j <= 32u) { lf.x |= 1u << (32u - j); } else { lf.y |= 1u << (64u - j); }
    } else {
      xm = shl64(sq, 2u);
    }
  }
  // z = e * k + e * log2(m) = zi + frac (frac in Q0.64).
  let kl = mul32(e.y, k);
  let kh = mul32(e.x, k);
  var fhi = kh.y + kl.x;
  var zi = kh.x + select(0u, 1u, fhi < kl.x);
  var frac = vec2u(fhi, kl.y);
  let el = mul64(e, lf);
  let flo = frac.y + el.y;
  let c0 = select(0u, 1u, flo < el.y);
  var fh2 = frac.x + el.x;
  var c1 = select(0u, 1u, fh2 < el.x);
  fh2 = fh2 + c0;
  c1 += select(0u, 1u, fh2 < c0);
  zi += c1;
  frac = vec2u(fh2, flo);
  // 2^frac in Q2.62 as a product of 2^(2^-j) over the set bits.
  var y = vec2u(0x40000000u, 0u);
  for (var j = 1u; j <= 52u; j++) {
    var bit = 0u;
    if (j <= 32u) { bit = (frac.x >> (32u - j)) & 1u; } else { bit = (frac.y >> (64u - j)) & 1u; }
    if (bit != 0u) { y = shl64(mul64(y, EXP2_POW[j - 1u]), 2u); }
  }
  // theta^e = RN(y) * 2^zi with a 24-bit mantissa.
  var mant = y.x >> 7u;
  if (((y.x >> 6u) & 1u) != 0u && ((y.x & 0x3fu) != 0u || y.y != 0u || (mant & 1u) != 0u)) {
    mant += 1u;
  }
  if (mant == 0x1000000u) { mant = 0x800000u; zi += 1u; }
  if (mant == 0x800000u) { return ldexp(1.0, -i32(zi)); }
  // 1 / theta^e = RN(2^47 / mant) * 2^(-24 - zi).
  var rr = 0x800000u;
  var qq = 0u;
  for (var b = 0u; b < 24u; b++) {
    rr = rr << 1u;
    qq = qq << 1u;
    if (rr >= mant) { rr -= mant; qq |= 1u; }
  }
  if (2u * rr > mant || (2u * rr == mant && (qq & 1u) != 0u)) { qq += 1u; }
  return ldexp(f32(qq), -24 - i32(zi));
}

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
  let half = p.Dh / 2u;
  let pos = f32(p.posOffset + row % p.T);
  for (var j = lid; j < half; j += WG) {
    let sc = sin_cos(pos * inv_freq(j));
    cs[j] = sc.y;
    sn[j] = p.sign * sc.x;
  }
  workgroupBarrier();
  let base = row * p.H * p.Dh;
  for (var k = lid; k < p.H * half; k += WG) {
    let h = k / half;
    let j = k - h * half;
    let lo = base + h * p.Dh + j;
    let hi = lo + half;
    let x1 = x[lo];
    let x2 = x[hi];
    out[lo] = x1 * cs[j] - x2 * sn[j];
    out[hi] = x2 * cs[j] + x1 * sn[j];
  }
}
