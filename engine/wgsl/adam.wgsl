// adam (AdamW): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr (m/bc1) / (sqrt(v/bc2) + eps) + lr wd p.
// Entries whose g, m, v are all exactly 0 keep m and v unchanged and take no Adam step (only
// weight decay, skipped when wd = 0), so with wd = 0 they stay bit-identical.
struct P {
  n: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, bc1: f32, bc2: f32,
}
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> pw: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.n) { return; }
  let gi = g[i];
  let mi = m[i];
  let vi = v[i];
  if (gi == 0.0 && mi == 0.0 && vi == 0.0) {
    if (p.weightDecay != 0.0) { pw[i] = pw[i] - p.lr * p.weightDecay * pw[i]; }
    return;
  }
  let m2 = p.beta1 * mi + (1.0 - p.beta1) * gi;
  let v2 = p.beta2 * vi + (1.0 - p.beta2) * gi * gi;
  m[i] = m2;
  v[i] = v2;
  var step = p.lr * (m2 / p.bc1) / (sqrt(v2 / p.bc2) + p.eps);
  if (p.weightDecay != 0.0) { step = step + p.lr * p.weightDecay * pw[i]; }
  pw[i] = pw[i] - step;
}
