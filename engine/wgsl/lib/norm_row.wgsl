// Shared WGSL for layernorm and rmsnorm: the reciprocal root mean square of a row about a centre.
// The including file declares x (f32) and includes lib/row_reduce.wgsl; included with
// `// #include lib/norm_row.wgsl`.

// 1 / sqrt(mean_j (x[base + j] - c)^2 + eps) over j < d: layer norm's rstd about the row mean,
// RMS norm's rrms about 0. Every invocation calls it in uniform control flow; all get the result.
fn inv_rms(base: u32, d: u32, c: f32, eps: f32, lid: u32) -> f32 {
  var q = 0.0;
  for (var j = lid; j < d; j += WG) {
    let t = x[base + j] - c;
    q += t * t;
  }
  return 1.0 / sqrt(reduce_sum(q, lid) / f32(d) + eps);
}
