// What the tensor ops share: operand checks (backend, shape, [rows, cols]) and the dispatch of
// an elementwise or row kernel. Operands larger than the backend's per-binding limit
// (maxBindingElements) are split into chunks of rows or elements by src/tensor/chunk.ts; when
// everything fits, an op is the one dispatch over whole buffers.

import { type Backend, BackendError } from "../../../engine/backend.ts";
import { chunkRows, type Mode, op, type Region, whole } from "../chunk.ts";
import { shapeStr, Tensor } from "../tensor.ts";

export function fail(op: string, msg: string): never {
  throw new BackendError(`${op}: ${msg}`);
}

export function sameBackend(op: string, ...ts: Tensor[]): void {
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.backend !== b) {
      fail(op, `tensors live on different backends (${b.name} and ${t.backend.name})`);
    }
  }
}

export function sameShape(op: string, a: Tensor, b: Tensor): void {
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
export const reg = (t: Tensor): Region => whole(t.buffer, t.size);

/**
 * An elementwise kernel over n elements (params [n, ...extra]), chunked into 64-aligned element
 * ranges when an operand is over the binding limit.
 */
export function elementwise(
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
export function rowKernel(
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

export function unary(kernel: string, a: Tensor, extra: number[] = []): Tensor {
  const out = Tensor.empty(a.backend, a.shape);
  elementwise(kernel, a.backend, [[a, "in"], [out, "out"]], a.size, extra);
  return out;
}

export function binary(kernel: string, a: Tensor, b: Tensor, extra: number[] = []): Tensor {
  sameBackend(kernel, a, b);
  sameShape(kernel, a, b);
  const out = Tensor.empty(a.backend, a.shape);
  elementwise(kernel, a.backend, [[a, "in"], [b, "in"], [out, "out"]], a.size, extra);
  return out;
}
