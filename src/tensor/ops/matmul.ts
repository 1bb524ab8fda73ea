// Tensor ops of the matmul kernels (engine/kernels/matmul.ts): matmul, matmul_tn, matmul_nt
// (matmul, matmulPrefix), bias_add (biasAdd) and sum_rows (sumRows).

import { chunkRows, matmulRegions, op } from "../chunk.ts";
import { type Shape, shapeStr, Tensor } from "../tensor.ts";
import { fill } from "./basic.ts";
import { fail, reg, rowsCols, sameBackend } from "./dispatch.ts";

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
