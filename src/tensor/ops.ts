// Tensor operations without gradients: each checks shapes, allocates its output and dispatches
// one kernel on the tensors' backend. The autograd ops in src/autograd/ compose these.
// Operands larger than the backend's per-binding limit (maxBindingElements) are split into
// chunks of rows or elements by src/tensor/chunk.ts; when everything fits, each op is the one
// dispatch over whole buffers.

import { type Backend, BackendError, type DType } from "../../engine/backend.ts";
import {
  chunkRows,
  copyColsRegion,
  fillRegion,
  matmulRegions,
  type Mode,
  op,
  type Region,
  sub,
  whole,
} from "./chunk.ts";
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

/** The tensor's elements as a region. */
const reg = (t: Tensor): Region => whole(t.buffer, t.size);

/**
 * An elementwise kernel over n elements (params [n, ...extra]), chunked into 64-aligned element
 * ranges when an operand is over the binding limit.
 */
function elementwise(
  kernel: string,
  be: Backend,
  operands: readonly (readonly [Tensor, Mode])[],
  n: number,
  extra: readonly number[] = [],
): void {
  chunkRows(kernel, be, n, operands.map(([t, m]) => op(reg(t), 1, m)), (b, _r0, cn) => {
    be.dispatch(kernel, b, [cn, ...extra]);
  });
}

/**
 * A row kernel over `rows` rows. Operands are [tensor, elements per row (0: bound whole), mode];
 * params(rn, r0) gives the kernel's params for a chunk of rn rows starting at row r0.
 */
function rowKernel(
  kernel: string,
  rows: number,
  operands: readonly (readonly [Tensor, number, Mode])[],
  params: (rn: number, r0: number) => readonly number[],
  multiple = 1,
): void {
  const be = operands[0][0].backend;
  chunkRows(
    kernel,
    be,
    rows,
    operands.map(([t, per, m]) => op(reg(t), per, m)),
    (b, r0, rn) => be.dispatch(kernel, b, params(rn, r0)),
    multiple,
  );
}

function unary(kernel: string, a: Tensor, extra: number[] = []): Tensor {
  const out = Tensor.empty(a.backend, a.shape);
  elementwise(kernel, a.backend, [[a, "in"], [out, "out"]], a.size, extra);
  return out;
}

function binary(kernel: string, a: Tensor, b: Tensor): Tensor {
  sameBackend(kernel, a, b);
  sameShape(kernel, a, b);
  const out = Tensor.empty(a.backend, a.shape);
  elementwise(kernel, a.backend, [[a, "in"], [b, "in"], [out, "out"]], a.size);
  return out;
}

/** Sets every element of t to value (in place). */
export function fill(t: Tensor, value: number): Tensor {
  if (t.size > 0) fillRegion(t.backend, reg(t), value);
  return t;
}

/**
 * x converted to `dtype`: f32 -> f16 rounds to nearest even (beyond ±65504 gives ±Infinity),
 * f16 -> f32 is exact. With `into` (same shape, of `dtype`), writes there.
 */
export function cast(x: Tensor, dtype: DType, into?: Tensor): Tensor {
  if (into) {
    sameBackend("cast", x, into);
    sameShape("cast", x, into);
    if (into.dtype !== dtype) fail("cast", `output holds ${into.dtype}, not ${dtype}`);
  }
  if (x.dtype === dtype) {
    if (!into) return x.clone();
    if (x.size > 0) x.backend.copy(x.buffer, 0, into.buffer, 0, x.size);
    return into;
  }
  const out = into ?? Tensor.empty(x.backend, x.shape, dtype);
  const kernel = dtype === "f16" ? "f32_to_f16" : "f16_to_f32";
  if (x.size > 0) elementwise(kernel, x.backend, [[x, "in"], [out, "out"]], x.size);
  return out;
}

/** dst = alpha * src, elementwise; either may be f16 (the product is formed in f32). */
export function scaleInto(src: Tensor, alpha: number, dst: Tensor): void {
  sameBackend("scale", src, dst);
  sameShape("scale", src, dst);
  if (src.dtype === "f32" && dst.dtype === "f32") {
    elementwise("scale", src.backend, [[src, "in"], [dst, "out"]], src.size, [alpha]);
    return;
  }
  const wide = src.dtype === "f32" ? src : cast(src, "f32");
  const scaled = scale(wide, alpha);
  if (wide !== src) wide.free();
  cast(scaled, dst.dtype, dst);
  scaled.free();
}

/** Ids travel as f32 values: integers up to 2^24 are exact. */
const MAX_EXACT_ID = 2 ** 24;

/** The first position of the ascending `xs` whose value is at least `v`. */
function lowerBound(xs: Uint32Array, v: number): number {
  let lo = 0, hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Writes values[i] into entry indices[i] of t (flat indices, ascending and distinct; rounded to
 * the nearest f16 when t is f16, its other entries keeping their bits): one upload of the entries
 * and one scatter_entries dispatch per chunk of rows under the binding limit, however scattered
 * the entries are (an edit's changes to the columns of a weight touch every row).
 */
export function writeEntries(t: Tensor, indices: Uint32Array, values: Float32Array): void {
  const k = indices.length;
  if (values.length !== k) fail("writeEntries", `${k} indices but ${values.length} values`);
  for (let i = 0; i < k; i++) {
    if (indices[i] >= t.size || (i > 0 && indices[i] <= indices[i - 1])) {
      fail(
        "writeEntries",
        `index ${indices[i]} at ${i} is not ascending within [0, ${t.size}) (after ${
          i > 0 ? indices[i - 1] : "none"
        })`,
      );
    }
  }
  if (k === 0) return;
  // As unitMatrix sees it (a vector is one row).
  const [rows, cols] = t.rank === 2 ? t.shape : [1, t.size];
  if (rows > MAX_EXACT_ID || cols > MAX_EXACT_ID) {
    fail("writeEntries", `a ${rows} x ${cols} matrix has ids beyond f32's exact integers`);
  }
  const be = t.backend;
  const kernel = t.dtype === "f16" ? "scatter_entries_f16" : "scatter_entries";
  chunkRows("scatter_entries", be, rows, [op(reg(t), cols, "inout")], (bind, r0, rn) => {
    const first = lowerBound(indices, r0 * cols), end = lowerBound(indices, (r0 + rn) * cols);
    for (let s = first; s < end; s += be.maxBindingElements) {
      const n = Math.min(end - s, be.maxBindingElements);
      const rowIds = new Float32Array(n), colIds = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const e = indices[s + i], r = Math.floor(e / cols);
        rowIds[i] = r - r0;
        colIds[i] = e - r * cols;
      }
      const parts = [values.subarray(s, s + n), rowIds, colIds].map((a) =>
        Tensor.fromArray(be, a, [n])
      );
      try {
        be.dispatch(kernel, [...parts.map((p) => p.buffer), bind[0]], [n, rn, cols]);
      } finally {
        for (const p of parts) p.free();
      }
    }
  });
}

/** A new tensor of zeros (chunked fill, unlike Tensor.zeros). */
export function zeros(backend: Backend, shape: Shape): Tensor {
  return fill(Tensor.empty(backend, shape), 0);
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
  elementwise("axpy", x.backend, [[x, "in"], [y, "inout"]], x.size, [alpha]);
}

/** A reduction to one value, summing per-chunk partial results. */
function reduceAll(kernel: string, x: Tensor): Tensor {
  const be = x.backend;
  const out = Tensor.empty(be, [1]);
  if (x.size === 0) {
    be.dispatch("fill", [out.buffer], [1, 0]);
    return out;
  }
  let partial: Tensor | null = null;
  try {
    chunkRows(kernel, be, x.size, [op(reg(x), 1, "in")], (b, r0, n) => {
      if (r0 === 0) be.dispatch(kernel, [b[0], out.buffer], [n]);
      else {
        partial ??= Tensor.empty(be, [1]);
        be.dispatch(kernel, [b[0], partial.buffer], [n]);
        be.dispatch("axpy", [partial.buffer, out.buffer], [1, 1]);
      }
    });
  } finally {
    (partial as Tensor | null)?.free();
  }
  return out;
}

/** Sum of all elements, as a [1] tensor. */
export function sum(x: Tensor): Tensor {
  return reduceAll("sum", x);
}

/** Number of NaN/Inf elements, as a [1] tensor. */
export function countNonfinite(x: Tensor): Tensor {
  if (x.dtype === "f32") return reduceAll("count_nonfinite", x);
  const wide = cast(x, "f32");
  const n = reduceAll("count_nonfinite", wide);
  wide.free();
  return n;
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
    if (!accumulate) fill(out, 0);
    return out;
  }
  const kernel = opts.transA
    ? (opts.transB ? null : "matmul_tn")
    : opts.transB
    ? "matmul_nt"
    : "matmul";
  if (!kernel) fail(op, "transA and transB together are not supported");
  matmulRegions(
    a.backend,
    kernel,
    reg(a),
    reg(b),
    reg(out),
    batch,
    m,
    n,
    k,
    ba === 1 ? 0 : m * k,
    bb === 1 ? 0 : k * n,
    accumulate,
  );
  return out;
}

/**
 * Batched product of a [batch, m, ·] with the first `len` rows of each matrix of a cache
 * [batch, capacity, cols] (keys or values of a KV cache): with transB, a [batch, m, cols] times
 * rowsᵀ gives [batch, m, len]; without, a [batch, m, len] times rows gives [batch, m, cols].
 */
export function matmulPrefix(a: Tensor, cache: Tensor, len: number, transB: boolean): Tensor {
  const o = "matmul_prefix";
  sameBackend(o, a, cache);
  if (a.rank !== 3 || cache.rank !== 3 || a.shape[0] !== cache.shape[0]) {
    fail(
      o,
      `expected 3-D tensors with equal batch, got ${shapeStr(a.shape)} and ${
        shapeStr(cache.shape)
      }`,
    );
  }
  const [batch, m, ka] = a.shape;
  const [, cap, cols] = cache.shape;
  if (len < 1 || len > cap) fail(o, `len ${len} is outside [1, ${cap}]`);
  const [n, k] = transB ? [len, cols] : [cols, len];
  if (ka !== k) {
    fail(o, `a ${shapeStr(a.shape)} does not fit ${len} rows of ${shapeStr(cache.shape)}`);
  }
  const out = Tensor.empty(a.backend, [batch, m, n]);
  if (out.size === 0) return out;
  matmulRegions(
    a.backend,
    transB ? "matmul_nt" : "matmul",
    reg(a),
    reg(cache),
    reg(out),
    batch,
    m,
    n,
    k,
    m * k,
    cap * cols,
    false,
  );
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
  const be = x.backend;
  chunkRows(
    "bias_add",
    be,
    rows,
    [op(reg(x), cols, "in"), op(reg(bias), 0, "in"), op(reg(out), cols, "out")],
    (b, _r0, rn) => be.dispatch("bias_add", b, [rn, cols]),
  );
  return out;
}

/** Column sums of x viewed as [rows, last dim] (the bias gradient), optionally added into `into`. */
export function sumRows(x: Tensor, into?: Tensor, accumulate = false): Tensor {
  const [rows, cols] = rowsCols(x);
  const out = into ?? Tensor.empty(x.backend, [cols]);
  if (out.size !== cols) fail("sum_rows", `output ${shapeStr(out.shape)} is not [${cols}]`);
  if (cols === 0) return out;
  if (rows === 0) {
    if (!accumulate) fill(out, 0);
    return out;
  }
  const be = x.backend;
  chunkRows(
    "sum_rows",
    be,
    rows,
    [op(reg(x), cols, "in"), op(reg(out), 0, "inout")],
    (b, r0, rn) => be.dispatch("sum_rows", b, [rn, cols, accumulate || r0 > 0 ? 1 : 0]),
  );
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
    rowKernel("layernorm", rows, [
      [x, d, "in"],
      [gamma, 0, "in"],
      [beta, 0, "in"],
      [out, d, "out"],
      [mean, 1, "out"],
      [rstd, 1, "out"],
    ], (rn) => [rn, d, eps]);
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
    rowKernel("layernorm_backward", rows, [
      [x, d, "in"],
      [gamma, 0, "in"],
      [dy, d, "in"],
      [mean, 1, "in"],
      [rstd, 1, "in"],
      [dx, d, "out"],
    ], (rn) => [rn, d]);
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
  rowKernel("layernorm_param_grad", rows, [
    [x, d, "in"],
    [dy, d, "in"],
    [mean, 1, "in"],
    [rstd, 1, "in"],
    [dgamma, 0, "inout"],
    [dbeta, 0, "inout"],
  ], (rn, r0) => [rn, d, accumulate || r0 > 0 ? 1 : 0]);
}

export function rmsnorm(x: Tensor, gamma: Tensor, eps: number): NormStats {
  const [rows, d] = checkNorm("rmsnorm", x, gamma);
  const out = Tensor.empty(x.backend, x.shape);
  const rstd = Tensor.empty(x.backend, [rows]);
  if (x.size > 0) {
    rowKernel("rmsnorm", rows, [
      [x, d, "in"],
      [gamma, 0, "in"],
      [out, d, "out"],
      [rstd, 1, "out"],
    ], (rn) => [rn, d, eps]);
  }
  return { out, rstd };
}

export function rmsnormBackward(x: Tensor, gamma: Tensor, dy: Tensor, rrms: Tensor): Tensor {
  const [rows, d] = checkNorm("rmsnorm_backward", x, gamma);
  sameShape("rmsnorm_backward", x, dy);
  const dx = Tensor.empty(x.backend, x.shape);
  if (x.size > 0) {
    rowKernel("rmsnorm_backward", rows, [
      [x, d, "in"],
      [gamma, 0, "in"],
      [dy, d, "in"],
      [rrms, 1, "in"],
      [dx, d, "out"],
    ], (rn) => [rn, d]);
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
  rowKernel("rmsnorm_param_grad", rows, [
    [x, d, "in"],
    [dy, d, "in"],
    [rrms, 1, "in"],
    [dgamma, 0, "inout"],
  ], (rn, r0) => [rn, d, accumulate || r0 > 0 ? 1 : 0]);
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
    // Causal rows are query positions r % qlen: chunks start on multiples of qlen.
    rowKernel(
      "softmax",
      rows,
      [[x, cols, "in"], [out, cols, "out"]],
      (rn) => [rn, cols, qlen, opts.causal ? 1 : 0, opts.scale ?? 1],
      opts.causal ? qlen : 1,
    );
  }
  return out;
}

export function softmaxBackward(y: Tensor, dy: Tensor, scale = 1): Tensor {
  sameShape("softmax_backward", y, dy);
  const [rows, cols] = rowsCols(y);
  const dx = Tensor.empty(y.backend, y.shape);
  if (y.size > 0) {
    rowKernel(
      "softmax_backward",
      rows,
      [[y, cols, "in"], [dy, cols, "in"], [dx, cols, "out"]],
      (rn) => [rn, cols, scale],
    );
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
    rowKernel("cross_entropy", rows, [
      [logits, v, "in"],
      [targets, 1, "in"],
      [loss, 1, "out"],
      [lse, 1, "out"],
    ], (rn) => [rn, v]);
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
    rowKernel("cross_entropy_backward", rows, [
      [logits, v, "in"],
      [targets, 1, "in"],
      [lse, 1, "in"],
      [dloss, 1, "in"],
      [d, v, "out"],
    ], (rn) => [rn, v]);
  }
  return d;
}

/** Per-row KL(softmax(p) || softmax(q)). */
export function klDiv(p: Tensor, q: Tensor): Tensor {
  sameShape("kl_div", p, q);
  const [rows, v] = rowsCols(p);
  const out = Tensor.empty(p.backend, [rows]);
  if (rows > 0) {
    rowKernel("kl_div", rows, [[p, v, "in"], [q, v, "in"], [out, 1, "out"]], (rn) => [rn, v]);
  }
  return out;
}

export function klDivBackward(p: Tensor, q: Tensor, dkl: Tensor): Tensor {
  sameShape("kl_div_backward", p, q);
  const [rows, v] = rowsCols(p);
  const dq = Tensor.empty(p.backend, q.shape);
  if (rows > 0) {
    rowKernel(
      "kl_div_backward",
      rows,
      [[p, v, "in"], [q, v, "in"], [dkl, 1, "in"], [dq, v, "out"]],
      (rn) => [rn, v],
    );
  }
  return dq;
}

/** Index of the max of each row (as f32 values). */
export function argmaxRows(x: Tensor): Tensor {
  const [rows, cols] = rowsCols(x);
  const out = Tensor.empty(x.backend, [rows]);
  if (rows > 0) {
    rowKernel("argmax_rows", rows, [[x, cols, "in"], [out, 1, "out"]], (rn) => [rn, cols]);
  }
  return out;
}

/**
 * Vocabulary chunks [v0, v0+vn) of a [V, d] table for the binding limit (whole table when it
 * fits), each with the ids shifted by -v0 so that ids of other chunks fall outside [0, vn) and
 * are skipped (backward) or give zero rows (forward).
 */
function vocabChunks(
  what: string,
  table: Region,
  v: number,
  d: number,
  ids: Tensor,
  fn: (rows: Region, vn: number, shifted: Tensor) => void,
): void {
  const be = ids.backend;
  if (table.length <= be.maxBindingElements) {
    fn(table, v, ids);
    return;
  }
  const per = rowsPerChunkFor(what, be, v, table, d);
  const neg = Tensor.empty(be, ids.shape);
  try {
    for (let v0 = 0; v0 < v; v0 += per) {
      const vn = Math.min(per, v - v0);
      fill(neg, -v0);
      const shifted = v0 === 0 ? ids : add(ids, neg);
      try {
        fn(sub(table, v0 * d, vn * d), vn, shifted);
      } finally {
        if (shifted !== ids) shifted.free();
      }
    }
  } finally {
    neg.free();
  }
}

/** Rows per chunk of a row-major region under the binding limit (aligned when possible). */
function rowsPerChunkFor(what: string, be: Backend, rows: number, r: Region, cols: number): number {
  let per = 0;
  chunkRows(what, be, rows, [op(r, cols, "in")], (_b, r0, rn) => {
    if (r0 === 0) per = rn;
  });
  return per;
}

/** Rows of `table` [V, d] (f32 or f16) picked by `ids` (f32 values), as f32 [...ids.shape, d]. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  sameBackend("embedding", table, ids);
  const [v, d] = rowsCols(table);
  const be = table.backend;
  const out = Tensor.empty(be, [...ids.shape, d]);
  if (out.size === 0) return out;
  const kernel = table.dtype === "f16" ? "embedding_f16" : "embedding";
  // Over vocabulary chunks each token's row comes from exactly one chunk and the others give
  // zero rows, so adding up the chunk results is exact.
  let part: Tensor | null = null;
  try {
    vocabChunks("embedding", reg(table), v, d, ids, (rows, vn, shifted) => {
      const dst: Tensor = part === null && rows.offset === 0
        ? out
        : (part ??= Tensor.empty(be, out.shape));
      chunkRows(
        "embedding",
        be,
        ids.size,
        [op(rows, 0, "in"), op(reg(shifted), 1, "in"), op(reg(dst), d, "out")],
        (b, _r0, n) => be.dispatch(kernel, b, [n, d, vn]),
      );
      if (dst !== out) axpy(out, dst, 1);
    });
  } finally {
    (part as Tensor | null)?.free();
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
  const be = dtable.backend;
  vocabChunks("embedding_backward", reg(dtable), v, d, ids, (rows, vn, shifted) => {
    chunkRows(
      "embedding_backward",
      be,
      ids.size,
      [op(reg(shifted), 1, "in"), op(reg(dout), d, "in"), op(rows, 0, "inout")],
      (b, _r0, n) => be.dispatch("embedding_backward", b, [n, d, vn]),
    );
  });
}

/**
 * `t` as the matrix gatherUnits and scatterUnits take: a view of it when it is 2-D, else a view
 * as one row [1, n] (a bias, whose units are its entries). The caller frees the view.
 */
export function unitMatrix(t: Tensor): Tensor {
  return t.rank === 2 ? t.reshape(t.shape) : t.reshape([1, t.size]);
}

/**
 * Units of the matrix x [rows, cols] (f32 or f16): with axis 0 the rows `ids`, as f32 [k, cols];
 * with axis 1 the columns `ids`, as f32 [rows, k]. ids are f32 values; one outside the axis
 * gives zeros.
 */
export function gatherUnits(x: Tensor, ids: Tensor, axis: 0 | 1): Tensor {
  sameBackend("gatherUnits", x, ids);
  if (x.rank !== 2 || ids.rank !== 1) {
    fail(
      "gatherUnits",
      `expected a matrix and a list, got ${shapeStr(x.shape)}, ${shapeStr(ids.shape)}`,
    );
  }
  if (axis === 0) return embedding(x, ids);
  const [rows, cols] = x.shape;
  const k = ids.size;
  const be = x.backend;
  const out = Tensor.empty(be, [rows, k]);
  const kernel = x.dtype === "f16" ? "gather_cols_f16" : "gather_cols";
  chunkRows(
    "gather_cols",
    be,
    rows,
    [op(reg(x), cols, "in"), op(reg(ids), 0, "in"), op(reg(out), k, "out")],
    (b, _r0, rn) => be.dispatch(kernel, b, [rn, cols, k]),
  );
  return out;
}

/**
 * Writes the compact f32 `src` (gatherUnits' layout) into the units `ids` of the matrix dst in
 * place, rounding to nearest even when dst is f16; every other entry keeps its bits. ids must be
 * distinct; one outside the axis is skipped.
 */
export function scatterUnits(dst: Tensor, src: Tensor, ids: Tensor, axis: 0 | 1): void {
  sameBackend("scatterUnits", dst, src, ids);
  if (dst.rank !== 2 || ids.rank !== 1) {
    fail(
      "scatterUnits",
      `expected a matrix and a list, got ${shapeStr(dst.shape)}, ${shapeStr(ids.shape)}`,
    );
  }
  const [rows, cols] = dst.shape;
  const k = ids.size;
  const want = axis === 0 ? [k, cols] : [rows, k];
  if (src.dtype !== "f32" || src.size !== want[0] * want[1]) {
    fail("scatterUnits", `src ${shapeStr(src.shape)} ${src.dtype} is not f32 [${want}]`);
  }
  if (src.size === 0) return;
  const be = dst.backend;
  const half = dst.dtype === "f16" ? "_f16" : "";
  if (axis === 1) {
    chunkRows(
      "scatter_cols",
      be,
      rows,
      [op(reg(src), k, "in"), op(reg(ids), 0, "in"), op(reg(dst), cols, "inout")],
      (b, _r0, rn) => be.dispatch(`scatter_cols${half}`, b, [rn, cols, k]),
    );
    return;
  }
  vocabChunks("scatter_rows", reg(dst), rows, cols, ids, (part, vn, shifted) => {
    chunkRows(
      "scatter_rows",
      be,
      k,
      [op(reg(src), cols, "in"), op(reg(shifted), 1, "in"), op(part, 0, "inout")],
      (b, _r0, n) => be.dispatch(`scatter_rows${half}`, b, [n, cols, vn]),
    );
  });
}

/** Rotary embedding of x [batch, T, H, Dh]; sign -1 applies the inverse rotation. */
export function rope(x: Tensor, posOffset: number, theta: number, sign = 1): Tensor {
  if (x.rank !== 4 || x.shape[3] % 2 !== 0) {
    fail("rope", `expected [batch, T, heads, even head dim], got ${shapeStr(x.shape)}`);
  }
  const [b, t, h, dh] = x.shape;
  const be = x.backend;
  const out = Tensor.empty(be, x.shape);
  if (x.size === 0) return out;
  const seq = t * h * dh;
  if (seq <= be.maxBindingElements) {
    // Chunks of whole sequences.
    chunkRows("rope", be, b, [op(reg(x), seq, "in"), op(reg(out), seq, "out")], (bd, _r0, bn) => {
      be.dispatch("rope", bd, [bn, t, h, dh, posOffset, theta, sign]);
    });
    return out;
  }
  // One sequence at a time, in chunks of positions.
  for (let i = 0; i < b; i++) {
    const row = h * dh;
    chunkRows(
      "rope",
      be,
      t,
      [op(sub(reg(x), i * seq, seq), row, "in"), op(sub(reg(out), i * seq, seq), row, "out")],
      (bd, t0, tn) => be.dispatch("rope", bd, [1, tn, h, dh, posOffset + t0, theta, sign]),
    );
  }
  return out;
}

/** [A, B, C, D] -> [A, C, B, D]. */
export function transpose0213(x: Tensor): Tensor {
  if (x.rank !== 4) fail("transpose_0213", `expected a 4-D tensor, got ${shapeStr(x.shape)}`);
  const [a, b, c, d] = x.shape;
  const be = x.backend;
  const out = Tensor.empty(be, [a, c, b, d]);
  if (x.size === 0) return out;
  const slab = b * c * d;
  if (slab <= be.maxBindingElements) {
    chunkRows(
      "transpose_0213",
      be,
      a,
      [op(reg(x), slab, "in"), op(reg(out), slab, "out")],
      (bd, _r0, an) => be.dispatch("transpose_0213", bd, [an, b, c, d]),
    );
    return out;
  }
  // One slab at a time: transpose b-chunks of x[i] into [C, bn, D] and place them as columns of
  // out[i] viewed as [C, B*D].
  const bn = Math.floor(be.maxBindingElements / (c * d));
  if (bn < 1) {
    fail(
      "transpose_0213",
      `a [${c}, ${d}] block of ${
        shapeStr(x.shape)
      } exceeds the binding limit of ${be.maxBindingElements} elements`,
    );
  }
  const tmp = Tensor.empty(be, [Math.min(bn, b) * c * d]);
  try {
    for (let i = 0; i < a; i++) {
      for (let b0 = 0; b0 < b; b0 += bn) {
        const n = Math.min(bn, b - b0);
        const src = sub(reg(x), i * slab + b0 * c * d, n * c * d);
        const dst = sub(reg(tmp), 0, n * c * d);
        chunkRows("transpose_0213", be, 1, [op(src, 0, "in"), op(dst, 0, "out")], (bd) => {
          be.dispatch("transpose_0213", bd, [1, n, c, d]);
        });
        copyColsRegion(be, c, dst, n * d, 0, sub(reg(out), i * slab, slab), b * d, b0 * d, n * d);
      }
    }
  } finally {
    tmp.free();
  }
  return out;
}

/** [A, Hkv, T, D] -> [A, Hkv*g, T, D], each kv head repeated g times. */
export function repeatKv(x: Tensor, g: number): Tensor {
  if (x.rank !== 4) fail("repeat_kv", `expected a 4-D tensor, got ${shapeStr(x.shape)}`);
  const [a, hkv, t, d] = x.shape;
  const out = Tensor.empty(x.backend, [a, hkv * g, t, d]);
  // Rows are (batch, kv head) pairs: t*d elements in, g*t*d out.
  if (x.size > 0) {
    rowKernel(
      "repeat_kv",
      a * hkv,
      [[x, t * d, "in"], [out, g * t * d, "out"]],
      (rn) => [1, rn, g, t, d],
    );
  }
  return out;
}

export function repeatKvBackward(dout: Tensor, g: number): Tensor {
  const [a, h, t, d] = dout.shape;
  if (dout.rank !== 4 || h % g !== 0) {
    fail("repeat_kv_backward", `cannot fold ${shapeStr(dout.shape)} by ${g}`);
  }
  const dx = Tensor.empty(dout.backend, [a, h / g, t, d]);
  if (dx.size > 0) {
    rowKernel(
      "repeat_kv_backward",
      a * (h / g),
      [[dout, g * t * d, "in"], [dx, t * d, "out"]],
      (rn) => [1, rn, g, t, d],
    );
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
  copyColsRegion(x.backend, rows, reg(x), srcCols, srcOffset, reg(into), dstCols, dstOffset, width);
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
  elementwise("adam", p.backend, [[g, "in"], [p, "inout"], [m, "inout"], [v, "inout"]], p.size, [
    s.lr,
    s.beta1,
    s.beta2,
    s.eps,
    s.weightDecay,
    1 - Math.pow(s.beta1, s.step),
    1 - Math.pow(s.beta2, s.step),
  ]);
}
