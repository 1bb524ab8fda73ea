// Shared WGSL for the kernels that exponentiate a row of logits (softmax, cross_entropy, kl_div,
// kl_div_backward): its max and its sum of exponentials. The including file declares
// fn logit(i: u32) -> f32 (the logit at flat index i) and includes lib/row_reduce.wgsl; included
// with `// #include lib/logsumexp.wgsl`. Every invocation calls these in uniform control flow;
// all get the result.

// max_j logit(base + j) over j < n (LOWEST for n = 0).
fn row_max(base: u32, n: u32, lid: u32) -> f32 {
  var m = LOWEST;
  for (var j = lid; j < n; j += WG) { m = max(m, logit(base + j)); }
  return reduce_max(m, lid);
}

// sum_j exp(logit(base + j) - m) over j < n; with m the row's max, logsumexp = m + log of it.
fn row_sum_exp(base: u32, n: u32, m: f32, lid: u32) -> f32 {
  var s = 0.0;
  for (var j = lid; j < n; j += WG) { s += exp(logit(base + j) - m); }
  return reduce_sum(s, lid);
}
