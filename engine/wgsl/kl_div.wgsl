// kl_div: kl[r] = KL(softmax(p_logits[r]) || softmax(q_logits[r])), one workgroup per row,
// computed without cancellation by lib/kl_row.wgsl.
struct P { rows: u32, V: u32 }
@group(0) @binding(0) var<storage, read> pl: array<f32>;
@group(0) @binding(1) var<storage, read> ql: array<f32>;
@group(0) @binding(2) var<storage, read_write> kl: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

// The row lib/logsumexp.wgsl reduces: p.
fn logit(i: u32) -> f32 { return pl[i]; }

// #include lib/row_reduce.wgsl
// #include lib/logsumexp.wgsl
// #include lib/kl_row.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let r = kl_row(row * p.V, p.V, lid);
  if (lid == 0u) { kl[row] = r.kl; }
}
