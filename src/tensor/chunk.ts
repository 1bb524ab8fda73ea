// Splitting kernel dispatches whose buffers exceed the device's per-binding limit
// (Backend.maxBindingElements, 128 MiB on lavapipe): GPT-2's token embedding, its tied LM head,
// the logits of long batches. A dispatch binds 256-byte-aligned slices of its buffers (64 f32 or
// 128 f16 elements), chunk by chunk; a chunk whose slice cannot start on such a boundary is staged
// through a temporary buffer (copied in and/or out around the dispatch). When everything fits, one
// dispatch binds the whole buffers exactly as before. Limits count elements of any dtype against
// maxBindingElements, which for f16 operands is conservative by a factor of two.

import {
  type Backend,
  BackendError,
  type Binding,
  type DeviceBuffer,
  sliceAlign,
} from "../../engine/backend.ts";

/** A contiguous range of a device buffer. */
export interface Region {
  readonly buf: DeviceBuffer;
  readonly offset: number;
  readonly length: number;
}

export function whole(buf: DeviceBuffer, length = buf.length): Region {
  return { buf, offset: 0, length };
}

export function sub(r: Region, offset: number, length: number): Region {
  return { buf: r.buf, offset: r.offset + offset, length };
}

/** in: read only; out: fully written; inout: read and (partly) written. */
export type Mode = "in" | "out" | "inout";

/** Binds regions for dispatches, staging misaligned ones through temporary buffers. */
export class Staging {
  #temps: { tmp: DeviceBuffer; r: Region; mode: Mode }[] = [];
  constructor(readonly backend: Backend) {}

  bind(r: Region, mode: Mode): Binding {
    if (r.offset === 0 && r.length === r.buf.length) return r.buf;
    if (r.offset % sliceAlign(r.buf.dtype) === 0) {
      return { buffer: r.buf, offset: r.offset, length: r.length };
    }
    const tmp = this.backend.alloc(r.length, r.buf.dtype);
    if (mode !== "out") this.backend.copy(r.buf, r.offset, tmp, 0, r.length);
    this.#temps.push({ tmp, r, mode });
    return tmp;
  }

  /** Copies staged outputs back and frees the temporaries. */
  finish(): void {
    for (const { tmp, r, mode } of this.#temps) {
      if (mode !== "in") this.backend.copy(tmp, 0, r.buf, r.offset, r.length);
      this.backend.free(tmp);
    }
    this.#temps = [];
  }
}

/** Dispatches `name` over regions (bound in order) with params, staging as needed. */
export function dispatchRegions(
  be: Backend,
  name: string,
  regions: readonly (readonly [Region, Mode])[],
  params: readonly number[],
): void {
  const st = new Staging(be);
  try {
    be.dispatch(name, regions.map(([r, m]) => st.bind(r, m)), params);
  } finally {
    st.finish();
  }
}

/** An operand of a row-chunked dispatch: `perRow` elements per row, or 0 to bind it whole. */
export interface RowOperand {
  readonly region: Region;
  readonly perRow: number;
  readonly mode: Mode;
}

export function op(region: Region, perRow: number, mode: Mode): RowOperand {
  return { region, perRow, mode };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function lcm(a: number, b: number): number {
  return a / gcd(a, b) * b;
}

/** Describes an over-limit size for error messages. */
function limitError(what: string, elements: number, be: Backend): BackendError {
  return new BackendError(
    `${what}: ${elements} elements (${elements * 4} bytes) exceed the ${be.name} backend's ` +
      `per-binding limit of ${be.maxBindingElements} elements (${
        be.maxBindingElements * 4
      } bytes) and cannot be split further`,
  );
}

/**
 * Rows per chunk for `rows` rows of operands holding `perRow` elements each under the binding
 * limit: a multiple of `multiple`, and when possible of the row counts that keep the largest
 * operands' slices 64-element aligned. Throws naming the sizes when even `multiple` rows overflow.
 */
export function rowsPerChunk(
  what: string,
  be: Backend,
  rows: number,
  operands: readonly RowOperand[],
  multiple = 1,
): number {
  const limit = be.maxBindingElements;
  let maxPer = 0;
  for (const o of operands) {
    if (o.perRow === 0 && o.region.length > limit) {
      throw limitError(`${what}: an operand bound whole`, o.region.length, be);
    }
    maxPer = Math.max(maxPer, o.perRow);
  }
  if (maxPer === 0) return rows;
  const fit = Math.floor(limit / maxPer);
  if (fit < multiple) throw limitError(`${what}: ${multiple} row(s)`, multiple * maxPer, be);
  // Alignment units of the row-chunked operands, largest per row first; keep those that fit.
  let step = multiple;
  const align = (o: RowOperand) => sliceAlign(o.region.buf.dtype);
  const byWeight = operands.filter((o) => o.perRow > 0 && o.region.offset % align(o) === 0)
    .sort((a, b) => b.perRow - a.perRow);
  for (const o of byWeight) {
    const s = lcm(step, align(o) / gcd(o.perRow, align(o)));
    if (s > fit) break;
    step = s;
  }
  return Math.max(step, Math.floor(fit / step) * step);
}

/**
 * Runs `run` over chunks of rows: each RowOperand is bound as the slice of its rows (or whole,
 * perRow 0). One call covering every row when all operands fit the binding limit.
 */
export function chunkRows(
  what: string,
  be: Backend,
  rows: number,
  operands: readonly RowOperand[],
  run: (bind: Binding[], r0: number, rn: number) => void,
  multiple = 1,
): void {
  if (rows === 0) return;
  const limit = be.maxBindingElements;
  const fits = operands.every((o) => (o.perRow === 0 ? o.region.length : rows * o.perRow) <= limit);
  const per = fits ? rows : rowsPerChunk(what, be, rows, operands, multiple);
  for (let r0 = 0; r0 < rows; r0 += per) {
    const rn = Math.min(per, rows - r0);
    const st = new Staging(be);
    try {
      run(
        operands.map((o) =>
          st.bind(
            o.perRow === 0 ? o.region : sub(o.region, r0 * o.perRow, rn * o.perRow),
            o.mode,
          )
        ),
        r0,
        rn,
      );
    } finally {
      st.finish();
    }
  }
}

/** fill over a region, chunked. */
export function fillRegion(be: Backend, r: Region, value: number): void {
  chunkRows("fill", be, r.length, [op(r, 1, "out")], (b, _r0, n) => {
    be.dispatch("fill", b, [n, value]);
  });
}

/**
 * Copies columns [srcOff, srcOff+width) of `rows` rows of src (srcCols wide) into columns
 * [dstOff, dstOff+width) of dst (dstCols wide), chunked by rows.
 */
export function copyColsRegion(
  be: Backend,
  rows: number,
  src: Region,
  srcCols: number,
  srcOff: number,
  dst: Region,
  dstCols: number,
  dstOff: number,
  width: number,
): void {
  if (rows === 0 || width === 0) return;
  if (width === srcCols && width === dstCols) {
    be.copy(src.buf, src.offset, dst.buf, dst.offset, rows * width);
    return;
  }
  if (Math.max(srcCols, dstCols) > be.maxBindingElements) {
    // One row is over the limit: copy the column windows row by row (copies bind nothing).
    for (let r = 0; r < rows; r++) {
      be.copy(
        src.buf,
        src.offset + r * srcCols + srcOff,
        dst.buf,
        dst.offset + r * dstCols + dstOff,
        width,
      );
    }
    return;
  }
  chunkRows(
    "copy_cols",
    be,
    rows,
    [op(src, srcCols, "in"), op(dst, dstCols, width === dstCols ? "out" : "inout")],
    (b, _r0, rn) => be.dispatch("copy_cols", b, [rn, srcCols, srcOff, dstCols, dstOff, width]),
  );
}

/**
 * Block [r0, r0+rn) x [c0, c0+cn) of a row-major matrix `m` (cols wide) as a region: a view when
 * it spans whole rows, else a temporary copy (returned in `temp`, for the caller to free).
 */
export function block(
  be: Backend,
  m: Region,
  cols: number,
  r0: number,
  rn: number,
  c0: number,
  cn: number,
): { region: Region; temp: DeviceBuffer | null } {
  if (c0 === 0 && cn === cols) return { region: sub(m, r0 * cols, rn * cols), temp: null };
  const temp = be.alloc(rn * cn, m.buf.dtype);
  copyColsRegion(be, rn, sub(m, r0 * cols, rn * cols), cols, c0, whole(temp), cn, 0, cn);
  return { region: whole(temp), temp };
}

export type MatmulKernel = "matmul" | "matmul_tn" | "matmul_nt";

/** The kernel that runs `kernel` for these operands: its f16 variant when B is f16. */
function matmulKernelFor(kernel: MatmulKernel, a: Region, b: Region, c: Region): string {
  if (a.buf.dtype !== "f32" || c.buf.dtype !== "f32") {
    throw new BackendError(`${kernel}: A and C must be f32 (got ${a.buf.dtype}, ${c.buf.dtype})`);
  }
  if (b.buf.dtype === "f32") return kernel;
  if (kernel === "matmul_tn") {
    throw new BackendError("matmul_tn: B must be f32 (an f16 B is only read by matmul and _nt)");
  }
  return `${kernel}_f16`;
}

/**
 * C = op(A) op(B) (or C += ... with accumulate) for a batch of matrices, as the matmul kernels
 * define it (B may be f16 for matmul and matmul_nt), split into batch groups or, when one matrix is over the limit, into blocks of rows
 * and columns: row blocks of stored matrices are slices, column blocks are gathered with
 * copy_cols, partial products accumulate over k blocks and column blocks of C are assembled with
 * copy_cols.
 */
export function matmulRegions(
  be: Backend,
  kernel: MatmulKernel,
  a: Region,
  b: Region,
  c: Region,
  batch: number,
  m: number,
  n: number,
  k: number,
  strideA: number,
  strideB: number,
  accumulate: boolean,
): void {
  const name = matmulKernelFor(kernel, a, b, c);
  const limit = be.maxBindingElements;
  const span = (g: number, stride: number, size: number) => (g - 1) * stride + size;
  const fitsGroup = (g: number) =>
    span(g, strideA, m * k) <= limit && span(g, strideB, k * n) <= limit && g * m * n <= limit;
  if (fitsGroup(batch)) {
    dispatchRegions(be, name, [
      [sub(a, 0, span(batch, strideA, m * k)), "in"],
      [sub(b, 0, span(batch, strideB, k * n)), "in"],
      [sub(c, 0, batch * m * n), accumulate ? "inout" : "out"],
    ], [batch, m, n, k, strideA, strideB, accumulate ? 1 : 0]);
    return;
  }
  // Largest batch group that fits (the spans grow with g).
  let g = 0;
  for (let lo = 1, hi = batch; lo <= hi;) {
    const mid = (lo + hi) >> 1;
    if (fitsGroup(mid)) [g, lo] = [mid, mid + 1];
    else hi = mid - 1;
  }
  for (let i = 0; i < batch; i += Math.max(g, 1)) {
    const gn = Math.min(Math.max(g, 1), batch - i);
    const ai = sub(a, i * strideA, span(gn, strideA, m * k));
    const bi = sub(b, i * strideB, span(gn, strideB, k * n));
    const ci = sub(c, i * m * n, gn * m * n);
    if (g > 0) {
      dispatchRegions(be, name, [[ai, "in"], [bi, "in"], [ci, accumulate ? "inout" : "out"]], [
        gn,
        m,
        n,
        k,
        strideA,
        strideB,
        accumulate ? 1 : 0,
      ]);
    } else {
      matmulBlocked(be, kernel, name, ai, bi, ci, m, n, k, accumulate);
    }
  }
}

/** Block sizes under the limit: shrinks the stored-row dim of an over-limit operand first. */
function blockSizes(
  limit: number,
  kernel: MatmulKernel,
  m: number,
  n: number,
  k: number,
): { bm: number; bn: number; bk: number } {
  const d: Record<"m" | "n" | "k", number> = { m, n, k };
  // [row dim, col dim] of each operand as stored.
  const shapes: ["m" | "n" | "k", "m" | "n" | "k"][] = [
    ["m", "n"],
    kernel === "matmul_tn" ? ["k", "m"] : ["m", "k"],
    kernel === "matmul_nt" ? ["n", "k"] : ["k", "n"],
  ];
  for (let changed = true; changed;) {
    changed = false;
    for (const [r, c] of shapes) {
      if (d[r] * d[c] <= limit) continue;
      if (d[c] > limit) d[c] = limit;
      d[r] = Math.max(1, Math.min(d[r], Math.floor(limit / d[c])));
      changed = true;
    }
  }
  return { bm: d.m, bn: d.n, bk: d.k };
}

function matmulBlocked(
  be: Backend,
  kernel: MatmulKernel,
  name: string,
  a: Region,
  b: Region,
  c: Region,
  m: number,
  n: number,
  k: number,
  accumulate: boolean,
): void {
  const { bm, bn, bk } = blockSizes(be.maxBindingElements, kernel, m, n, k);
  const temps: DeviceBuffer[] = [];
  const take = (x: { region: Region; temp: DeviceBuffer | null }) => {
    if (x.temp) temps.push(x.temp);
    return x.region;
  };
  try {
    for (let m0 = 0; m0 < m; m0 += bm) {
      const mn = Math.min(bm, m - m0);
      for (let n0 = 0; n0 < n; n0 += bn) {
        const nn = Math.min(bn, n - n0);
        // The C block: a slice of whole rows, or a temporary assembled into C afterwards.
        const wholeRows = nn === n;
        let cb: Region;
        if (wholeRows) cb = sub(c, m0 * n, mn * n);
        else {
          const t = be.alloc(mn * nn);
          temps.push(t);
          cb = whole(t);
          if (accumulate) copyColsRegion(be, mn, sub(c, m0 * n, mn * n), n, n0, cb, nn, 0, nn);
        }
        for (let k0 = 0; k0 < k; k0 += bk) {
          const kn = Math.min(bk, k - k0);
          const ab = take(
            kernel === "matmul_tn"
              ? block(be, a, m, k0, kn, m0, mn)
              : block(be, a, k, m0, mn, k0, kn),
          );
          const bb = take(
            kernel === "matmul_nt"
              ? block(be, b, k, n0, nn, k0, kn)
              : block(be, b, n, k0, kn, n0, nn),
          );
          const acc = accumulate || k0 > 0;
          dispatchRegions(be, name, [[ab, "in"], [bb, "in"], [cb, acc ? "inout" : "out"]], [
            1,
            mn,
            nn,
            kn,
            0,
            0,
            acc ? 1 : 0,
          ]);
          // Free the operand temporaries of this k block (the C temp stays).
          while (temps.length > (wholeRows ? 0 : 1)) be.free(temps.pop()!);
        }
        if (!wholeRows) copyColsRegion(be, mn, cb, nn, 0, sub(c, m0 * n, mn * n), n, n0, nn);
        while (temps.length) be.free(temps.pop()!);
      }
    }
  } finally {
    for (const t of temps) be.free(t);
  }
}
