// Shared WGSL for softcap and softcap_backward: tanh and its derivative 1 - tanh^2 in f32, with
// relative precision at both ends (WGSL's own tanh promises only an absolute error, and some
// drivers form it from exp(2z), which overflows). Below |z| = 0.625 Cephes' odd polynomial
// (tanh z = z + z^3 P(z^2)); above, 1 - tanh|z| = 2 / (e^(2|z|) + 1) directly, so the derivative
// (1 - t)(1 + t) keeps its relative precision in the tails. Included with
// `// #include lib/tanh.wgsl`.

const TANH_SMALL: f32 = 0.625;

// tanh(a) for 0 <= a < 0.625.
fn tanh_small(a: f32) -> f32 {
  let z = a * a;
  let p = (((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z
    + 1.33314422036e-1) * z - 3.33332819422e-1;
  return a + a * z * p;
}

// 1 - tanh(a) = 2 / (e^(2a) + 1) for a >= 0; a is clamped to 40 (the gap is under 1e-34 there),
// so e^(2a) stays finite.
fn tanh_gap(a: f32) -> f32 {
  return 2.0 / (exp(2.0 * min(a, 40.0)) + 1.0);
}

fn tanh_f32(z: f32) -> f32 {
  let a = abs(z);
  let t = select(1.0 - tanh_gap(a), tanh_small(a), a < TANH_SMALL);
  return select(t, -t, z < 0.0);
}

// 1 - tanh(z)^2.
fn tanh_slope(z: f32) -> f32 {
  let a = abs(z);
  let t = tanh_small(a);
  let q = tanh_gap(a);
  return select(q * (2.0 - q), 1.0 - t * t, a < TANH_SMALL);
}
