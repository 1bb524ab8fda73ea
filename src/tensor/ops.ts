// Tensor operations without gradients: each checks shapes, allocates its output and dispatches
// one kernel on the tensors' backend. The autograd ops in src/autograd/ compose these.

import { BackendError } from "../../engine/backend.ts";
import { type Shape, shapeStr, Tensor } from "./tensor.ts";

function fail(op: string, msg: string): never {
  throw new BackendError(`${op}: ${msg}`);
}

function sameBackend(op: string, ...ts: Tensor[]): void {
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.backend !== b) {
      fail(op, `tensors live on different backends (${b.name} and ${t.backend.name})`);
    }
  }
}

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size || a.shape.some((d, i) => d !== b.shape[i])) {
    fail(op, `shape mismatch ${shapeStr(a.shape)} vs ${shapeStr(b.shape)}`);
  }
}

/** Splits a tensor into [rows, last dim]. */
export function rowsCols(t: Tensor): [number, number] {
  const cols = t.shape.at(-1) ?? 1;
  return [cols === 0 ? 0 : t.size / cols, cols];
}

function unary(kernel: string, a: Tensor, extra: number[] = []): Tensor {
  const out = Tensor.empty(a.backend, a.shape);
  if (a.size > 0) a.backend.dispatch(kernel, [a.buffer, out.buffer], [a.size, ...extra]);
  return out;
}

function binary(kernel: string, a: Tensor, b: Tensor): Tensor {
  sameBackend(kernel, a, b);
  sameShape(kernel, a, b);
  const out = Tensor.empty(a.backend, a.shape);
  if (a.size > 0) a.backend.dispatch(kernel, [a.buffer, b.buffer, out.buffer], [a.size]);
  return out;
}

export const add = (a: Tensor, b: Tensor): Tensor => binary("add", a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary("mul", a, b);
export const scale = (a: Tensor, s: number): Tensor => unary("scale", a, [s]);
export const gelu = (x: Tensor): Tensor => unary("gelu", x);
export const silu = (x: Tensor): Tensor => unary("silu", x);
export const geluBackward = (x: Tensor, dy: Tensor): Tensor => binary("gelu_backward", x, dy);
export const siluBackward = (x: Tensor, dy: Tensor): Tensor => binary("silu_backward", x, dy);

/** y += alpha * x, in place. */
export function axpy(y: Tensor, x: Tensor, alpha = 1): void {
  sameBackend("axpy", x, y);
  sameShape("axpy", x, y);
  if (x.size > 0) x.backend.dispatch("axpy", [x.buffer, y.buffer], [x.size, alpha]);
}

/** Sum of all elements, as a [1] tensor. */
export function sum(x: Tensor): Tensor {
  const out = Tensor.empty(x.backend, [1]);
  if (x.size === 0) x.backend.dispatch("fill", [out.buffer], [1, 0]);
  else x.backend.dispatch("sum", [x.buffer, out.buffer], [x.size]);
  return out;
}

/** Number of NaN/Inf elements, as a [1] tensor. */
export function countNonfinite(x: Tensor): Tensor {
  const out = Tensor.empty(x.backend, [1]);
  if (x.size === 0) x.backend.dispatch("fill", [out.buffer], [1, 0]);
  else x.backend.dispatch("count_nonfinite", [x.buffer, out.buffer], [x.size]);
  return out;
}

export interface MatmulOptions {
  /** A is stored transposed ([.., k, m]). */
  transA?: boolean;
  /** B is stored transposed ([.., n, k]). */
  transB?: boolean;
}

function matDims(op: string, t: Tensor): [number, number, number] {
  if (t.rank === 2) return [1, t.shape[0], t.shape[1]];
  if (t.rank === 3) return [t.shape[0], t.shape[1], t.shape[2]];
  fail(op, `expected a 2-D or 3-D tensor, got ${shapeStr(t.shape)}`);
}

/**
 * Matrix product of 2-D or batched 3-D tensors; a 2-D operand broadcasts over the other's batch.
 * With `into`, writes (or with accumulate, adds) into an existing tensor of the result shape.
 */
export function matmul(
  a: Tensor,
  b: Tensor,
  opts: MatmulOptions = {},
  into?: Tensor,
  accumulate = false,
): Tensor {
  const op = "matmul";
  sameBackend(op, a, b);
  const [ba, ra, ca] = matDims(op, a);
  const [bb, rb, cb] = matDims(op, b);
  const [m, k] = opts.transA ? [ca, ra] : [ra, ca];
  const [kb, n] = opts.transB ? [cb, rb] : [rb, cb];
  if (k !== kb) {
    fail(
      op,
      `inner dimensions differ: ${shapeStr(a.shape)}${opts.transA ? "ᵀ" : ""} · ${
        shapeStr(b.shape)
      }${opts.transB ? "ᵀ" : ""}`,
    );
  }
  if (ba !== bb && ba !== 1 && bb !== 1) {
    fail(op, `batch sizes differ: ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  }
  const batch = Math.max(ba, bb);
  const batched = a.rank === 3 || b.rank === 3;
  const shape: Shape = batched ? [batch, m, n] : [m, n];
  let out: Tensor;
  if (into) {
    sameBackend(op, a, into);
    if (into.size !== batch * m * n) {
      fail(op, `output ${shapeStr(into.shape)} does not hold the product ${shapeStr(shape)}`);
    }
    out = into;
  } else {
    out = Tensor.empty(a.backend, shape);
  }
  if (out.size === 0) return out;
  if (k === 0) {
    if (!accumulate) a.backend.dispatch("fill", [out.buffer], [out.size, 0]);
    return out;
  }
  const kernel = opts.transA
    ? (opts.transB ? null : "matmul_tn")
    : opts.transB
    ? "matmul_nt"
    : "matmul";
  if (!kernel) fail(op, "transA and transB together are not supported");
  a.backend.dispatch(kernel, [a.buffer, b.buffer, out.buffer], [
    batch,
    m,
    n,
    k,
    ba === 1 ? 0 : m * k,
    bb === 1 ? 0 : k * n,
    accumulate ? 1 : 0,
  ]);
  return out;
}

/** x + bias over the last dimension. */
export function biasAdd(x: Tensor, bias: Tensor): Tensor {
  sameBackend("bias_add", x, bias);
  const [rows, cols] = rowsCols(x);
  if (bias.size !== cols) {
    fail("bias_add", `bias ${shapeStr(bias.shape)} does not match x ${shapeStr(x.shape)}`);
  }
  const out = Tensor.empty(x.backend, x.shape);
  if (x.size > 0) x.backend.dispatch("bias_add", [x.buffer, bias.buffer, out.buffer], [rows, cols]);
  return out;
}

/** Column sums of x viewed as [rows, last dim] (the bias gradient), optionally added into `into`. */
export function sumRows(x: Tensor, into?: Tensor, accumulate = false): Tensor {
  const [rows, cols] = rowsCols(x);
  const out = into ?? Tensor.empty(x.backend, [cols]);
  if (out.size !== cols) fail("sum_rows", `output ${shapeStr(out.shape)} is not [${cols}]`);
  if (cols === 0) return out;
  if (rows === 0) {
    if (!accumulate) x.backend.dispatch("fill", [out.buffer], [cols, 0]);
    return out;
  }
  x.backend.dispatch("sum_rows", [x.buffer, out.buffer], [rows, cols, accumulate ? 1 : 0]);
  return out;
}

export interface NormStats {
  out: Tensor;
  /** Per-row mean (layer norm only). */
  mean?: Tensor;
  /** Per-row 1/std (layer norm) or 1/rms (RMS norm). */
  rstd: Tensor;
}

function checkNorm(op: string, x: Tensor, ...params: Tensor[]): [number, number] {
  const [rows, d] = rowsCols(x);
  for (const p of params) {
    sameBackend(op, x, p);
    if (p.size !== d) {
      fail(op, `parameter ${shapeStr(p.shape)} does not match x ${shapeStr(x.shape)}`);
    }
  }
  return [rows, d];
}

export function layernorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): NormStats {
  const [rows, d] = checkNorm("layernorm", x, gamma, beta);
  const out = Tensor.empty(x.backend, x.shape);
  const mean = Tensor.empty(x.backend, [rows]);
  const rstd = Tensor.empty(x.backend, [rows]);
  if (x.size > 0) {
    x.backend.dispatch(
      "layernorm",
      [x.buffer, gamma.buffer, beta.buffer, out.buffer, mean.buffer, rstd.buffer],
      [rows, d, eps],
    );
  }
  return { out, mean, rstd };
}

export function layernormBackward(
  x: Tensor,
  gamma: Tensor,
  dy: Tensor,
  mean: Tensor,
  rstd: Tensor,
): Tensor {
  const [rows, d] = checkNorm("layernorm_backward", x, gamma);
  sameShape("layernorm_backward", x, dy);
  const dx = Tensor.empty(x.backend, x.shape);
  if (x.size > 0) {
    x.backend.dispatch(
      "layernorm_backward",
      [x.buffer, gamma.buffer, dy.buffer, mean.buffer, rstd.buffer, dx.buffer],
      [rows, d],
    );
  }
  return dx;
}

/** Adds (or writes) d gamma and d beta of a layer norm into the given tensors. */
export function layernormParamGrad(
  x: Tensor,
  dy: Tensor,
  mean: Tensor,
  rstd: Tensor,
  dgamma: Tensor,
  dbeta: Tensor,
  accumulate: boolean,
): void {
  const [rows, d] = checkNorm("layernorm_param_grad", x, dgamma, dbeta);
  if (x.size === 0) return;
  x.backend.dispatch(
    "layernorm_param_grad",
    [x.buffer, dy.buffer, mean.buffer, rstd.buffer, dgamma.buffer, dbeta.buffer],
    [rows, d, accumulate ? 1 : 0],
  );
}

export function rmsnorm(x: Tensor, gamma: Tensor, eps: number): NormStats {
  const [rows, d] = checkNorm("rmsnorm", x, gamma);
  const out = Tensor.empty(x.backend, x.shape);
  const rstd = Tensor.empty(x.backend, [rows]);
  if (x.size > 0) {
    x.backend.dispatch("rmsnorm", [x.buffer, gamma.buffer, out.buffer, rstd.buffer], [
      rows,
      d,
      eps,
    ]);
  }
  return { out, rstd };
}

export function rmsnormBackward(x: Tensor, gamma: Tensor, dy: Tensor, rrms: Tensor): Tensor {
  const [rows, d] = checkNorm("rmsnorm_backward", x, gamma);
  sameShape("rmsnorm_backward", x, dy);
  const dx = Tensor.empty(x.backend, x.shape);
  if (x.size > 0) {
    x.backend.dispatch(
      "rmsnorm_backward",
      [x.buffer, gamma.buffer, dy.buffer, rrms.buffer, dx.buffer],
      [rows, d],
    );
  }
  return dx;
}

export function rmsnormParamGrad(
  x: Tensor,
  dy: Tensor,
  rrms: Tensor,
  dgamma: Tensor,
  accumulate: boolean,
): void {
  const [rows, d] = checkNorm("rmsnorm_param_grad", x, dgamma);
  if (x.size === 0) return;
  x.backend.dispatch("rmsnorm_param_grad", [x.buffer, dy.buffer, rrms.buffer, dgamma.buffer], [
    rows,
    d,
    accumulate ? 1 : 0,
  ]);
}

export interface SoftmaxOptions {
  /** Multiplies the input before the softmax. */
  scale?: number;
  /** Causal mask over the last dim; the rows are the last `qlen` query positions. */
  causal?: boolean;
  qlen?: number;
}

export function softmax(x: Tensor, opts: SoftmaxOptions = {}): Tensor {
  const [rows, cols] = rowsCols(x);
  const qlen = opts.qlen ?? cols;
  if (opts.causal && (qlen < 1 || qlen > cols)) {
    fail("softmax", `qlen ${qlen} must be in [1, ${cols}]`);
  }
  const out = Tensor.empty(x.backend, x.shape);
  if (x.size > 0) {
    x.backend.dispatch("softmax", [x.buffer, out.buffer], [
      rows,
      cols,
      qlen,
      opts.causal ? 1 : 0,
      opts.scale ?? 1,
    ]);
  }
  return out;
}

export function softmaxBackward(y: Tensor, dy: Tensor, scale = 1): Tensor {
  sameShape("softmax_backward", y, dy);
  const [rows, cols] = rowsCols(y);
  const dx = Tensor.empty(y.backend, y.shape);
  if (y.size > 0) {
    y.backend.dispatch("softmax_backward", [y.buffer, dy.buffer, dx.buffer], [rows, cols, scale]);
  }
  return dx;
}

function checkTargets(op: string, logits: Tensor, targets: Tensor): [number, number] {
  sameBackend(op, logits, targets);
  const [rows, v] = rowsCols(logits);
  if (targets.size !== rows) {
    fail(op, `targets ${shapeStr(targets.shape)} do not match ${rows} rows of logits`);
  }
  return [rows, v];
}

/** Per-row cross-entropy (targets < 0 are ignored: loss 0) and the row log-sum-exp. */
export function crossEntropy(logits: Tensor, targets: Tensor): { loss: Tensor; lse: Tensor } {
  const [rows, v] = checkTargets("cross_entropy", logits, targets);
  const loss = Tensor.empty(logits.backend, [rows]);
  const lse = Tensor.empty(logits.backend, [rows]);
  if (rows > 0) {
    logits.backend.dispatch(
      "cross_entropy",
      [logits.buffer, targets.buffer, loss.buffer, lse.buffer],
      [rows, v],
    );
  }
  return { loss, lse };
}

export function crossEntropyBackward(
  logits: Tensor,
  targets: Tensor,
  lse: Tensor,
  dloss: Tensor,
): Tensor {
  const [rows, v] = checkTargets("cross_entropy_backward", logits, targets);
  const d = Tensor.empty(logits.backend, logits.shape);
  if (rows > 0) {
    logits.backend.dispatch(
      "cross_entropy_backward",
      [logits.buffer, targets.buffer, lse.buffer, dloss.buffer, d.buffer],
      [rows, v],
    );
  }
  return d;
}

/** Per-row KL(softmax(p) || softmax(q)). */
export function klDiv(p: Tensor, q: Tensor): Tensor {
  sameShape("kl_div", p, q);
  const [rows, v] = rowsCols(p);
  const out = Tensor.empty(p.backend, [rows]);
  if (rows > 0) p.backend.dispatch("kl_div", [p.buffer, q.buffer, out.buffer], [rows, v]);
  return out;
}

export function klDivBackward(p: Tensor, q: Tensor, dkl: Tensor): Tensor {
  sameShape("kl_div_backward", p, q);
  const [rows, v] = rowsCols(p);
  const dq = Tensor.empty(p.backend, q.shape);
  if (rows > 0) {
    p.backend.dispatch("kl_div_backward", [p.buffer, q.buffer, dkl.buffer, dq.buffer], [rows, v]);
  }
  return dq;
}

/** Index of the max of each row (as f32 values). */
export function argmaxRows(x: Tensor): Tensor {
  const [rows, cols] = rowsCols(x);
  const out = Tensor.empty(x.backend, [rows]);
  if (rows > 0) x.backend.dispatch("argmax_rows", [x.buffer, out.buffer], [rows, cols]);
  return out;
}

/** Rows of `table` [V, d] picked by `ids` (f32 values), shape [...ids.shape, d]. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  sameBackend("embedding", table, ids);
  const [v, d] = rowsCols(table);
  const out = Tensor.empty(table.backend, [...ids.shape, d]);
  if (out.size > 0) {
    table.backend.dispatch("embedding", [table.buffer, ids.buffer, out.buffer], [ids.size, d, v]);
  }
  return out;
}

/** dtable[ids[t]] += dout[t]. */
export function embeddingBackward(ids: Tensor, dout: Tensor, dtable: Tensor): void {
  const [v, d] = rowsCols(dtable);
  if (dout.size !== ids.size * d) {
    fail(
      "embedding_backward",
      `dout ${shapeStr(dout.shape)} does not match ids ${shapeStr(ids.shape)}`,
    );
  }
  if (dout.size === 0) return;
  dtable.backend.dispatch("embedding_backward", [ids.buffer, dout.buffer, dtable.buffer], [
    ids.size,
    d,
    v,
  ]);
}

/** Rotary embedding of x [batch, T, H, Dh]; sign -1 applies the inverse rotation. */
export function rope(x: Tensor, posOffset: number, theta: number, sign = 1): Tensor {
  if (x.rank !== 4 || x.shape[3] % 2 !== 0) {
    fail("rope", `expected [batch, T, heads, even head dim], got ${shapeStr(x.shape)}`);
  }
  const [b, t, h, dh] = x.shape;
  const out = Tensor.empty(x.backend, x.shape);
  if (x.size > 0) {
    x.backend.dispatch("rope", [x.buffer, out.buffer], [b, t, h, dh, posOffset, theta, sign]);
  }
  return out;
}

/** [A, B, C, D] -> [A, C, B, D]. */
export function transpose0213(x: Tensor): Tensor {
  if (x.rank !== 4) fail("transpose_0213", `expected a 4-D tensor, got ${shapeStr(x.shape)}`);
  const [a, b, c, d] = x.shape;
  const out = Tensor.empty(x.backend, [a, c, b, d]);
  if (x.size > 0) x.backend.dispatch("transpose_0213", [x.buffer, out.buffer], [a, b, c, d]);
  return out;
}

/** [A, Hkv, T, D] -> [A, Hkv*g, T, D], each kv head repeated g times. */
export function repeatKv(x: Tensor, g: number): Tensor {
  if (x.rank !== 4) fail("repeat_kv", `expected a 4-D tensor, got ${shapeStr(x.shape)}`);
  const [a, hkv, t, d] = x.shape;
  const out = Tensor.empty(x.backend, [a, hkv * g, t, d]);
  if (x.size > 0) x.backend.dispatch("repeat_kv", [x.buffer, out.buffer], [a, hkv, g, t, d]);
  return out;
}

export function repeatKvBackward(dout: Tensor, g: number): Tensor {
  const [a, h, t, d] = dout.shape;
  if (dout.rank !== 4 || h % g !== 0) {
    fail("repeat_kv_backward", `cannot fold ${shapeStr(dout.shape)} by ${g}`);
  }
  const dx = Tensor.empty(dout.backend, [a, h / g, t, d]);
  if (dx.size > 0) {
    dout.backend.dispatch("repeat_kv_backward", [dout.buffer, dx.buffer], [a, h / g, g, t, d]);
  }
  return dx;
}

/** Copies columns [srcOffset, srcOffset+width) of x [rows, *] into columns of `into` [rows, *]. */
export function copyCols(
  x: Tensor,
  srcOffset: number,
  width: number,
  into: Tensor,
  dstOffset: number,
): void {
  const [rows, srcCols] = rowsCols(x);
  const [rowsOut, dstCols] = rowsCols(into);
  if (rows !== rowsOut || srcOffset + width > srcCols || dstOffset + width > dstCols) {
    fail(
      "copy_cols",
      `cannot copy ${width} columns from ${srcOffset} of ${shapeStr(x.shape)} to ${dstOffset} of ${
        shapeStr(into.shape)
      }`,
    );
  }
  if (rows === 0 || width === 0) return;
  x.backend.dispatch("copy_cols", [x.buffer, into.buffer], [
    rows,
    srcCols,
    srcOffset,
    dstCols,
    dstOffset,
    width,
  ]);
}

/** Columns [offset, offset+width) of x as a new [..., width] tensor. */
export function sliceCols(x: Tensor, offset: number, width: number): Tensor {
  const out = Tensor.empty(x.backend, [...x.shape.slice(0, -1), width]);
  copyCols(x, offset, width, out, 0);
  return out;
}

export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step number, for bias correction. */
  step: number;
}

/** One AdamW update of p with gradient g and moments m, v (all in place). */
export function adam(p: Tensor, g: Tensor, m: Tensor, v: Tensor, s: AdamStep): void {
  for (const t of [g, m, v]) sameShape("adam", p, t);
  if (p.size === 0) return;
  p.backend.dispatch("adam", [g.buffer, p.buffer, m.buffer, v.buffer], [
    p.size,
    s.lr,
    s.beta1,
    s.beta2,
    s.eps,
    s.weightDecay,
    1 - Math.pow(s.beta1, s.step),
    1 - Math.pow(s.beta2, s.step),
  ]);
}
