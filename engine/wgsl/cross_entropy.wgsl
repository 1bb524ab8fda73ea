// cross_entropy: lse[r] = logsumexp(logits[r]), loss[r] = lse[r] - logits[r, targets[r]];
// target < 0: ignored (loss 0); target >= V or NaN: loss NaN. One workgroup per row.
struct P { rows: u32, V: u32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

// The row lib/logsumexp.wgsl reduces.
fn logit(i: u32) -> f32 { return logits[i]; }

// #include lib/row_reduce.wgsl
// #include lib/logsumexp.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.V;
  let m = row_max(base, p.V, lid);
  let s = row_sum_exp(base, p.V, m, lid);
  if (lid == 0u) {
    let ls = log(s);
    lse[row] = m + ls;
    let t = targets[row];
    var l = 0.0;
    if (!(t < 0.0)) {
      if (t < f32(p.V)) {
        l = (m - logits[base + u32(t)]) + ls;
      } else {
        l = bitcast<f32>(0x7fc00000u + (p.rows & 0u));
      }
    }
    loss[row] = l;
  }
}
