// Shared WGSL for gelu and gelu_backward (GPT-2's tanh form): 0.5x(1 + tanh(u)) = x sigmoid(2u),
// u = sqrt(2/pi)(x + 0.044715x^3). The including file includes lib/sigmoid.wgsl; included with
// `// #include lib/gelu.wgsl`.

const GELU_C: f32 = 0.7978845608028654; // sqrt(2/pi)
const GELU_K: f32 = 0.044715;

// sigmoid(2u) is 0 or 1 to f32 precision once |x| > 10, so u is computed from x clamped to
// [-10, 10]: x^3 never overflows and the gradient's x s (1-s) u' term is never inf * 0.
fn gelu_clamp(x: f32) -> f32 {
  return clamp(x, -10.0, 10.0);
}

// s = sigmoid(2u) at c = gelu_clamp(x), c2 = c * c (the backward pass reuses c2).
fn gelu_gate(c: f32, c2: f32) -> f32 {
  return sigmoid(2.0 * GELU_C * c * (1.0 + GELU_K * c2));
}
