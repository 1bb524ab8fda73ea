// Differentiable operations: each runs the forward kernels from src/tensor/ops.ts and records a
// backward closure computing only the parent gradients that are needed.

import { BackendError } from "../../engine/backend.ts";
import * as T from "../tensor/ops.ts";
import { type Shape, shapeStr, Tensor } from "../tensor/tensor.ts";
import { record, sinkUnits, type Var } from "./variable.ts";

export function add(a: Var, b: Var): Var {
  return record(T.add(a.value, b.value), [a, b], (g, needs) => [
    needs[0] ? g.clone() : null,
    needs[1] ? g.clone() : null,
  ]);
}

export function mul(a: Var, b: Var): Var {
  return record(T.mul(a.value, b.value), [a, b], (g, needs) => [
    needs[0] ? T.mul(g, b.value) : null,
    needs[1] ? T.mul(g, a.value) : null,
  ]);
}

export function scale(a: Var, s: number): Var {
  return record(T.scale(a.value, s), [a], (g) => [T.scale(g, s)]);
}

/** a + c elementwise for a constant c (Gemma's norm weights, stored as offsets from 1). */
export function addScalar(a: Var, c: number): Var {
  const k = T.fill(Tensor.empty(a.value.backend, a.shape), c);
  const y = T.add(a.value, k);
  k.free();
  return record(y, [a], (g) => [g.clone()]);
}

export function reshape(a: Var, shape: Shape): Var {
  return record(a.value.reshape(shape), [a], (g) => [g.reshape(a.shape)]);
}

export function gelu(x: Var): Var {
  return record(T.gelu(x.value), [x], (g) => [T.geluBackward(x.value, g)]);
}

/** The exact GELU, x Phi(x) (GPT-NeoX); gelu above is GPT-2's tanh form. */
export function geluErf(x: Var): Var {
  return record(T.geluErf(x.value), [x], (g) => [T.geluErfBackward(x.value, g)]);
}

export function silu(x: Var): Var {
  return record(T.silu(x.value), [x], (g) => [T.siluBackward(x.value, g)]);
}

/**
 * Soft-capping, cap tanh((s x) / cap) (Gemma 2: attention scores with s the attention scale,
 * logits with s = 1); tanh itself at s = cap = 1.
 */
export function softcap(x: Var, s: number, cap: number): Var {
  return record(T.softcap(x.value, s, cap), [x], (g) => [T.softcapBackward(x.value, g, s, cap)]);
}

/**
 * Linear layer over the last dim of x. `layout` says how w is stored: "in_out" ([in, out], the
 * GPT-2 Conv1D layout, y = x·W) or "out_in" ([out, in], torch Linear, y = x·Wᵀ). With `scale`
 * s != 1 the output is s·(x·W + b), the layer of weights s·W and s·b without touching them (the
 * integration path of KNE's attribution); the gradients are those of that expression, so
 * dW is s times the gradient at the scaled weights.
 */
export function linear(
  x: Var,
  w: Var,
  b: Var | null,
  layout: "in_out" | "out_in",
  scale = 1,
): Var {
  const [rows, din] = T.rowsCols(x.value);
  const [wr, wc] = [w.shape[0], w.shape[1]];
  const dout = layout === "in_out" ? wc : wr;
  if (w.shape.length !== 2 || (layout === "in_out" ? wr : wc) !== din) {
    throw new BackendError(
      `linear: x ${shapeStr(x.shape)} does not fit weight ${shapeStr(w.shape)} (${layout})`,
    );
  }
  const x2 = x.value.reshape([rows, din]);
  const y2 = T.matmul(x2, w.value, { transB: layout === "out_in" });
  x2.free();
  let y = y2.viewAs([...x.shape.slice(0, -1), dout]);
  if (b) {
    const yb = T.biasAdd(y, b.value);
    y.free();
    y = yb;
  }
  if (scale !== 1) {
    const ys = T.scale(y, scale);
    y.free();
    y = ys;
  }
  const parents = b ? [x, w, b] : [x, w];
  return record(y, parents, (g, needs) => {
    const g2 = scale !== 1 ? T.scale(g, scale).viewAs([rows, dout]) : g.reshape([rows, dout]);
    const xr = x.value.reshape([rows, din]);
    const dx = needs[0]
      ? T.matmul(g2, w.value, { transB: layout === "in_out" }).viewAs(x.shape)
      : null;
    // dW = xᵀ·g ([in, out]) or gᵀ·x ([out, in]). A parameter that wants only some output units
    // (Var.gradUnits: columns of an [in, out] weight or of the bias, rows of an [out, in] one)
    // gets the same products over just those columns of g, handed to its sink.
    const weightGrad = (gu: Tensor) =>
      layout === "in_out" ? T.matmul(xr, gu, { transA: true }) : T.matmul(gu, xr, { transA: true });
    const outputUnits = (v: Var, axis: 0 | 1) =>
      v.gradUnits?.axis === axis ? T.gatherUnits(g2, v.gradUnits.ids, 1) : null;
    let dw: Tensor | null = null, db: Tensor | null = null;
    const gw = needs[1] ? outputUnits(w, layout === "in_out" ? 1 : 0) : null;
    if (gw) {
      sinkUnits(w, weightGrad(gw));
      gw.free();
    } else if (needs[1]) dw = weightGrad(g2);
    const gb = b && needs[2] ? outputUnits(b, 1) : null;
    if (gb) {
      sinkUnits(b!, T.sumRows(gb));
      gb.free();
    } else if (b && needs[2]) db = T.sumRows(g2);
    g2.free();
    xr.free();
    return b ? [dx, dw, db] : [dx, dw];
  });
}

/** Batched matmul of 3-D Vars (attention), with either operand optionally transposed. */
export function bmm(a: Var, b: Var, opts: T.MatmulOptions = {}): Var {
  const y = T.matmul(a.value, b.value, opts);
  return record(y, [a, b], (g, needs) => {
    const { transA = false, transB = false } = opts;
    // C = op(A)·op(B): dA = g·op(B)ᵀ, dB = op(A)ᵀ·g, with storage transposes folded in.
    const da = needs[0]
      ? transA
        ? T.matmul(b.value, g, { transA: transB, transB: true }) // (g·op(B)ᵀ)ᵀ = op(B)·gᵀ
        : T.matmul(g, b.value, { transB: !transB })
      : null;
    const db = needs[1]
      ? transB
        ? T.matmul(g, a.value, { transA: true, transB: transA }) // (op(A)ᵀ·g)ᵀ = gᵀ·op(A)
        : T.matmul(a.value, g, { transA: !transA })
      : null;
    return [da, db];
  });
}

export function layerNorm(x: Var, gamma: Var, beta: Var, eps: number): Var {
  const { out, mean, rstd } = T.layernorm(x.value, gamma.value, beta.value, eps);
  return record(out, [x, gamma, beta], (g, needs) => {
    const dx = needs[0] ? T.layernormBackward(x.value, gamma.value, g, mean!, rstd) : null;
    let dg: Tensor | null = null, db: Tensor | null = null;
    if (needs[1] || needs[2]) {
      dg = Tensor.empty(x.value.backend, gamma.shape);
      db = Tensor.empty(x.value.backend, beta.shape);
      T.layernormParamGrad(x.value, g, mean!, rstd, dg, db, false);
    }
    return [dx, dg, db];
  });
}

export function rmsNorm(x: Var, gamma: Var, eps: number): Var {
  const { out, rstd } = T.rmsnorm(x.value, gamma.value, eps);
  return record(out, [x, gamma], (g, needs) => {
    const dx = needs[0] ? T.rmsnormBackward(x.value, gamma.value, g, rstd) : null;
    let dg: Tensor | null = null;
    if (needs[1]) {
      dg = Tensor.empty(x.value.backend, gamma.shape);
      T.rmsnormParamGrad(x.value, g, rstd, dg, false);
    }
    return [dx, dg];
  });
}

/** Rows of the table picked by ids (a constant tensor of f32 token ids). */
export function embedding(table: Var, ids: Tensor): Var {
  return record(T.embedding(table.value, ids), [table], (g) => {
    // A leaf that already holds a gradient (GPT-2's tied embedding, after the LM head) takes the
    // scatter in place, as accumulation would, without a table-sized zero gradient.
    if (table.isLeaf && table.grad && table.grad.size === table.value.size) {
      T.embeddingBackward(ids, g, table.grad);
      return [null];
    }
    const dt = T.zeros(table.value.backend, table.shape);
    T.embeddingBackward(ids, g, dt);
    return [dt];
  });
}

export function softmax(x: Var, opts: T.SoftmaxOptions = {}): Var {
  const y = T.softmax(x.value, opts);
  return record(y, [x], (g) => [T.softmaxBackward(y, g, opts.scale ?? 1)]);
}

export function transpose0213(x: Var): Var {
  return record(T.transpose0213(x.value), [x], (g) => [T.transpose0213(g)]);
}

/**
 * Rotary embedding with the inverse frequencies `invFreq` (a constant, no gradient); pairs
 * (2i, 2i + 1) when `interleaved` (GPT-J), else (i, i + Dr/2).
 */
export function rope(x: Var, posOffset: number, invFreq: Tensor, interleaved = false): Var {
  return record(T.rope(x.value, posOffset, invFreq, 1, interleaved), [x], (g) => [
    T.rope(g, posOffset, invFreq, -1, interleaved),
  ]);
}

export function repeatKv(x: Var, groups: number): Var {
  if (groups === 1) return x;
  return record(T.repeatKv(x.value, groups), [x], (g) => [T.repeatKvBackward(g, groups)]);
}

/** Columns [offset, offset+width) of the last dim. */
export function sliceCols(x: Var, offset: number, width: number): Var {
  const [rows, cols] = T.rowsCols(x.value);
  return record(T.sliceCols(x.value, offset, width), [x], (g) => {
    const dx = T.zeros(x.value.backend, [rows, cols]);
    const gr = g.reshape([rows, width]);
    T.copyCols(gr, 0, width, dx, offset);
    gr.free();
    return [dx.viewAs(x.shape)];
  });
}

/** Per-row cross-entropy of logits [rows, V] against f32 targets [rows] (< 0: ignored, 0 loss). */
export function crossEntropyRows(logits: Var, targets: Tensor): Var {
  const { loss, lse } = T.crossEntropy(logits.value, targets);
  return record(loss, [logits], (g) => [T.crossEntropyBackward(logits.value, targets, lse, g)]);
}

/** Per-row KL(softmax(ref) || softmax(q)) with a constant reference. */
export function klRows(ref: Tensor, q: Var): Var {
  return record(T.klDiv(ref, q.value), [q], (g) => [T.klDivBackward(ref, q.value, g)]);
}

/** Weighted sum x·w of a vector Var with a constant weight vector, as a [1] Var. */
export function dot(x: Var, w: Tensor): Var {
  if (x.value.size !== w.size) {
    throw new BackendError(`dot: ${shapeStr(x.shape)} and ${shapeStr(w.shape)} differ in size`);
  }
  const n = w.size;
  const xr = x.value.reshape([1, n]), wr = w.reshape([n, 1]);
  const y = T.matmul(xr, wr).viewAs([1]);
  xr.free();
  return record(y, [x], (g) => {
    const gr = g.reshape([1, 1]);
    const dx = T.matmul(wr, gr).viewAs(x.shape);
    gr.free();
    return [dx];
  });
}
