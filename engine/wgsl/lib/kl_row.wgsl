// Shared WGSL for kl_div and kl_div_backward: the statistics of one row of KL(P || Q), P =
// softmax(p), Q = softmax(q). With d = p - q, mu = E_P[d] and d' = d - mu:
// KL = log1p(E_P[phi(d')]), phi(x) = e^-x - 1 + x, a sum of non-negative terms (no cancellation,
// so tiny divergences stay accurate). The including file declares pl and ql (the logits p and q,
// f32) and includes lib/row_reduce.wgsl and lib/logsumexp.wgsl with logit(i) = pl[i]; included
// with `// #include lib/kl_row.wgsl`.

struct KlRow {
  lse_p: f32, // logsumexp(p)
  mu: f32, // E_P[p - q]
  kl: f32, // KL(P || Q)
}

// phi(x) / x^2 = 1/2 - x/6 + x^2/24 - ... (Taylor to x^8, for |x| <= 0.5).
fn phi_over_x2(x: f32) -> f32 {
  var y = 1.0 / 3628800.0;
  y = y * x - 1.0 / 362880.0;
  y = y * x + 1.0 / 40320.0;
  y = y * x - 1.0 / 5040.0;
  y = y * x + 1.0 / 720.0;
  y = y * x - 1.0 / 120.0;
  y = y * x + 1.0 / 24.0;
  y = y * x - 1.0 / 6.0;
  return y * x + 0.5;
}

// log(1 + u) without losing small u.
fn log1p_(u: f32) -> f32 {
  if (abs(u) < 0.1) {
    var y = -1.0 / 8.0;
    y = y * u + 1.0 / 7.0;
    y = y * u - 1.0 / 6.0;
    y = y * u + 1.0 / 5.0;
    y = y * u - 1.0 / 4.0;
    y = y * u + 1.0 / 3.0;
    y = y * u - 1.0 / 2.0;
    return (y * u + 1.0) * u;
  }
  return log(1.0 + u);
}

// The statistics of the row of V logits at base. Every invocation calls it in uniform control
// flow; all get the result.
fn kl_row(base: u32, V: u32, lid: u32) -> KlRow {
  let m = row_max(base, V, lid);
  // S = sum e_j, D = sum e_j (p_j - q_j) with e_j = exp(p_j - m): lse_p = m + log S, mu = D / S.
  var se = 0.0;
  var sd = 0.0;
  for (var j = lid; j < V; j += WG) {
    let pv = pl[base + j];
    let e = exp(pv - m);
    se += e;
    if (e != 0.0) { sd += e * (pv - ql[base + j]); }
  }
  se = reduce_sum(se, lid);
  sd = reduce_sum(sd, lid);
  let lse_p = m + log(se);
  let mu = sd / se;
  // exp(q_j - kq) is Q_j before normalising by e^KL: kq = lse_q - KL.
  let kq = lse_p - mu;
  var u = 0.0;
  for (var j = lid; j < V; j += WG) {
    let pv = pl[base + j];
    let qv = ql[base + j];
    let dp = (pv - qv) - mu;
    let pp = exp(pv - lse_p);
    if (abs(dp) <= 0.5) {
      u += pp * (dp * dp * phi_over_x2(dp));
    } else {
      var pd = 0.0;
      if (pp != 0.0) { pd = pp * dp; }
      u += (exp(qv - kq) - pp) + pd;
    }
  }
  return KlRow(lse_p, mu, log1p_(reduce_sum(u, lid)));
}
