// Shared WGSL for gelu_erf and gelu_erf_backward (the exact GELU, x Phi(x), of GPT-NeoX and
// BERT): Phi(x) = erfc(-x / sqrt 2) / 2, erfc from its Chebyshev fit t exp(-z^2 + P(t)),
// t = 1 / (1 + z/2), z = |x| / sqrt 2 (fractional error under 1.2e-7 in exact arithmetic, so the
// tails keep their relative precision). Included with `// #include lib/normal_cdf.wgsl`.

const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

fn normal_cdf(x: f32) -> f32 {
  let z = abs(x) * INV_SQRT2;
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223
    + t * 0.17087277))))))));
  // erfc(z) for z >= 0; min keeps z * z finite (exp underflows to 0 long before).
  let tail = 0.5 * t * exp(p - min(z, 20.0) * min(z, 20.0));
  return select(1.0 - tail, tail, x < 0.0);
}

// The standard normal density exp(-x^2 / 2) / sqrt(2 pi), 0 once x^2 / 2 underflows.
fn normal_pdf(x: f32) -> f32 {
  let c = min(abs(x), 20.0);
  return INV_SQRT_2PI * exp(-0.5 * c * c);
}
