// kl_div_backward: dq[r] = (softmax(q_logits[r]) - softmax(p_logits[r])) * dkl[r], one workgroup
// per row. With the row statistics of kl_div (lib/kl_row.wgsl: lse_p, mu = E_P[p - q], KL),
// Q_j - P_j = P_j * expm1(-(p_j - q_j - mu) - KL), evaluated by series near 0 (no cancellation).
struct P { rows: u32, V: u32 }
@group(0) @binding(0) var<storage, read> pl: array<f32>;
@group(0) @binding(1) var<storage, read> ql: array<f32>;
@group(0) @binding(2) var<storage, read> dkl: array<f32>;
@group(0) @binding(3) var<storage, read_write> dq: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

// The row lib/logsumexp.wgsl reduces: p.
fn logit(i: u32) -> f32 { return pl[i]; }

// #include lib/row_reduce.wgsl
// #include lib/logsumexp.wgsl
// #include lib/kl_row.wgsl

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

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.V;
  let r = kl_row(base, p.V, lid);
  let lse_q = (r.lse_p - r.mu) + r.kl;
  let g = dkl[row];
  for (var j = lid; j < p.V; j += WG) {
    let pv = pl[base + j];
    let qv = ql[base + j];
    let y = -(((pv - qv) - r.mu) + r.kl);
    let pp = exp(pv - r.lse_p);
    var d = 0.0;
    if (abs(y) <= 0.5) {
      d = pp * (y * expm1_over_x(y));
    } else {
      d = exp(qv - lse_q) - pp;
    }
    dq[base + j] = d * g;
  }
}
