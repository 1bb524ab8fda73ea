// kl_div_backward: dq[r] = (softmax(q_logits[r]) - softmax(p_logits[r])) * dkl[r], one workgroup
// per row. With the row statistics of kl_div (lse_p, mu = E_P[p - q], KL),
// Q_j - P_j = P_j * expm1(-(p_j - q_j - mu) - KL), evaluated by series near 0 (no cancellation).
struct P { rows: u32, V: u32 }
@group(0) @binding(0) var<storage, read> pl: array<f32>;
@group(0) @binding(1) var<storage, read> ql: array<f32>;
@group(0) @binding(2) var<storage, read> dkl: array<f32>;
@group(0) @binding(3) var<storage, read_write> dq: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

// #include lib/row_reduce.wgsl

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

// expm1(x) / x = 1 + x/2 + x^2/6 + ... (Taylor to x^8, for |x| <= 0.5).
fn expm1_over_x(x: f32) -> f32 {
  var y = 1.0 / 362880.0;
  y = y * x + 1.0 / 40320.0;
  y = y * x + 1.0 / 5040.0;
  y = y * x + 1.0 / 720.0;
  y = y * x + 1.0 / 120.0;
  y = y * x + 1.0 / 24.0;
  y = y * x + 1.0 / 6.0;
  y = y * x + 0.5;
  return y * x + 1.0;
}

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

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.V;
  var m = LOWEST;
  for (var j = lid; j < p.V; j += WG) { m = max(m, pl[base + j]); }
  m = reduce_max(m, lid);
  // S = sum e_j, D = sum e_j (p_j - q_j) with e_j = exp(p_j - m): lse_p = m + log S, mu = D / S.
  var se = 0.0;
  var sd = 0.0;
  for (var j = lid; j < p.V; j += WG) {
    let pv = pl[base + j];
    let e = exp(pv - m);
    se += e;
    if (e != 0.0) { sd += e * (pv - ql[base + j]); }
  }
  se = reduce_sum(se, lid);
  sd = reduce_sum(sd, lid);
  let lse_p = m + log(se);
  let mu = sd / se;
  let kq = lse_p - mu;
  var u = 0.0;
  for (var j = lid; j < p.V; j += WG) {
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
  let kl = log1p_(reduce_sum(u, lid));
  let lse_q = kq + kl;
  let g = dkl[row];
  for (var j = lid; j < p.V; j += WG) {
    let pv = pl[base + j];
    let qv = ql[base + j];
    let y = -(((pv - qv) - mu) + kl);
    let pp = exp(pv - lse_p);
    var d = 0.0;
    if (abs(y) <= 0.5) {
      d = pp * (y * expm1_over_x(y));
    } else {
      d = exp(qv - lse_q) - pp;
    }
    dq[base + j] = d * g;
  }
}
