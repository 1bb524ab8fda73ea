// Shared WGSL for the GELU and SiLU kernels and their backward passes: the logistic sigmoid.
// Included with `// #include lib/sigmoid.wgsl`.

// sigmoid with exp kept finite (WGSL leaves overflow undefined); exactly 0 below z = -87, where
// the true value is under 1.7e-38, so x * sigmoid(x) is 0 for hugely negative x.
fn sigmoid(z: f32) -> f32 {
  return select(1.0 / (1.0 + exp(-clamp(z, -87.0, 87.0))), 0.0, z < -87.0);
}
