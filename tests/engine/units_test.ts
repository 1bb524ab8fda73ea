// Tests of the unit kernels (engine/kernels/units.ts) on both backends, over random shapes with
// odd sizes and random distinct ids mixed with out-of-range, negative, fractional, -0 and NaN ids:
//   gather_cols against a host reference on the bits (a copy: NaN payloads, -0 and subnormals
//   kept; invalid ids give +0), gather_cols_f16 against Math.f16round of the uploaded values;
//   scatter_rows / scatter_cols: every selected entry holds src's bits, every other entry of dst
//   keeps its bits; scatter_rows_f16 / scatter_cols_f16: every selected entry holds the f16
//   rounding of src (ties to even) bit for bit, every other half (the other half of a word shared
//   with a written one included: odd d, adjacent columns) keeps its bits, also on large shapes
//   where every word is written by two invocations;
//   scatter_entries / scatter_entries_f16: the same over single entries given by (row, column) id
//   pairs in random order, an entry skipped when either id is invalid;
//   dispatch validation: too-small buffers and wrong dtypes throw BackendError.

import fc from "fast-check";
import { ok, throws as assertThrows } from "node:assert/strict";
import { type Backend, BackendError, type DeviceBuffer } from "../../engine/backend.ts";
import { FC_RUNS, POISON, randomData, seedArb } from "../helpers/reference.ts";
import { testBackends } from "../helpers/backends.ts";

// ---- host data -----------------------------------------------------------------------------

/** A xorshift generator of uint32 values from a seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** f32 bit patterns the copies must keep: ±0, ±Infinity, NaNs with payloads, subnormals. */
const SPECIAL_F32_BITS = [
  0x00000000,
  0x80000000,
  0x7f800000,
  0xff800000,
  0x7fc00000,
  0xffc00001,
  0x7f800001,
  0x7fbfffff,
  0x00000001,
  0x807fffff,
];

/** n f32 values as bits: values in [-1, 1), arbitrary bit patterns and the special ones. */
function f32Bits(n: number, seed: number): Uint32Array {
  const next = rng(seed), values = randomData(n, seed + 1);
  const vbits = new Uint32Array(values.buffer);
  return Uint32Array.from({ length: n }, (_, i) => {
    const r = next() % 8;
    if (r < 4) return vbits[i];
    if (r < 7) return next();
    return SPECIAL_F32_BITS[next() % SPECIAL_F32_BITS.length];
  });
}

/** f32 values on the edges of f16 rounding (ties, overflow, subnormals, signed zeros). */
const F16_EDGES = [
  0,
  -0,
  65504,
  65519.99,
  65520,
  -65520,
  1e10,
  -Infinity,
  Infinity,
  2 ** -14,
  2 ** -14 - 2 ** -25,
  2 ** -24,
  -(2 ** -25),
  2 ** -25 + 2 ** -40,
  3 * 2 ** -25,
  5 * 2 ** -25,
  1.401298464324817e-45,
  1 + 2 ** -11,
  1 + 3 * 2 ** -11,
  1 + 2 ** -11 + 2 ** -23,
  2049,
  1 / 3,
];

/** NaNs as f32 bits: quiet, negative, signaling, with payloads. */
const NAN_BITS = [0x7fc00000, 0xffc00000, 0x7f800001, 0xffbfffff, 0x7fc01234];

/**
 * n f32 values to round to f16: random values of several magnitudes, arbitrary bits in the f16
 * range (normal, subnormal, overflowing), the edge cases and NaNs.
 */
function f16Sources(n: number, seed: number): Float32Array {
  const next = rng(seed), values = randomData(n, seed + 1);
  const edges = new Uint32Array(Float32Array.from(F16_EDGES).buffer);
  const bits = Uint32Array.from({ length: n }, (_, i) => {
    const r = next() % 16;
    if (r < 8) {
      const v = Math.fround(values[i] * [1, 1e-5, 300, 7e4][next() % 4]);
      return new Uint32Array(Float32Array.of(v).buffer)[0];
    }
    if (r < 12) return (0x33000000 + (next() % (0x47800000 - 0x33000000))) | (next() & 0x80000000);
    if (r < 15) return edges[next() % edges.length];
    return NAN_BITS[next() % NAN_BITS.length];
  });
  return new Float32Array(bits.buffer);
}

/** n random f16 bit patterns, none a NaN (so that a read's value identifies its bits). */
function halfBitsNoNaN(n: number, seed: number): Uint16Array {
  const next = rng(seed);
  return Uint16Array.from({ length: n }, () => {
    const h = next() & 0xffff;
    return (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0 ? h & 0xfc00 : h;
  });
}

/** f16 bits of each of src rounded to nearest, ties to even (a NaN: its sign | 0x7e00). */
function halfBitsOf(src: Float32Array): Uint16Array {
  const out = new Uint16Array(new Float16Array(src).buffer);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  bits.forEach((b, i) => {
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = ((b >>> 16) & 0x8000) | 0x7e00;
  });
  return out;
}

const hex = (b: number, w = 8) => `0x${b.toString(16).padStart(w, "0")}`;

// ---- ids -----------------------------------------------------------------------------------

/** Ids that select nothing: below 0, at or past n, NaN (quiet, negative, with a payload). */
function invalidIds(n: number): number[] {
  const nan = (bits: number) => new Float32Array(Uint32Array.of(bits).buffer)[0];
  return [-1, -0.5, -1e-30, n, n + 0.5, n + 7, 1e10, -Infinity, Infinity, NaN, nan(0xffc00001)];
}

interface Ids {
  /** The ids as uploaded. */
  ids: Float32Array;
  /** The unit each id selects, or -1. */
  units: number[];
}

/**
 * `valid` distinct ids of [0, n) (some with a fraction, 0 sometimes as -0) and `invalid` ids
 * that select nothing, in random order.
 */
function makeIds(n: number, valid: number, invalid: number, seed: number): Ids {
  const next = rng(seed);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const list: number[] = perm.slice(0, valid).map((u) => {
    const r = next() % 4;
    if (u === 0 && r === 0) return -0;
    return r === 1 ? u + [0.25, 0.5, 0.75][next() % 3] : u;
  });
  // Consecutive kinds of invalid id from a random start: many cover them all.
  const bad = invalidIds(n), start = next();
  for (let i = 0; i < invalid; i++) {
    list.splice(next() % (list.length + 1), 0, bad[(start + i) % bad.length]);
  }
  const ids = Float32Array.from(list);
  // The reference reads the f32 ids as stored.
  const units = [...ids].map((id) => id >= 0 && id < n ? Math.floor(id) + 0 : -1);
  return { ids, units };
}

/** Units fraction: all, none, or some of them selected. */
const fractionArb = fc.oneof(
  { arbitrary: fc.constant(1), weight: 3 },
  { arbitrary: fc.constant(0), weight: 1 },
  { arbitrary: fc.double({ min: 0, max: 1, noNaN: true }), weight: 4 },
);

const invalidArb = fc.oneof(
  { arbitrary: fc.constant(0), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 12 }), weight: 3 },
);

/** A dimension: 1, small odd, or anything up to max. */
const dimArb = (max: number) =>
  fc.oneof(
    { arbitrary: fc.constant(1), weight: 1 },
    { arbitrary: fc.integer({ min: 0, max: (max - 1) >> 1 }).map((h) => 2 * h + 1), weight: 3 },
    { arbitrary: fc.integer({ min: 1, max }), weight: 3 },
  );

// ---- device helpers ------------------------------------------------------------------------

function putF32(be: Backend, bits: Uint32Array): DeviceBuffer {
  const b = be.alloc(bits.length);
  be.upload(b, new Float32Array(bits.buffer, bits.byteOffset, bits.length));
  return b;
}

function putIds(be: Backend, ids: Float32Array): DeviceBuffer {
  const b = be.alloc(ids.length);
  be.upload(b, ids);
  return b;
}

async function readF32Bits(be: Backend, buf: DeviceBuffer): Promise<Uint32Array> {
  return new Uint32Array((await be.read(buf)).buffer);
}

/** Compares f32 bit patterns element by element. */
function assertBits(got: Uint32Array, want: Uint32Array, what: (i: number) => string): void {
  ok(got.length === want.length, `length ${got.length}, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      throw new Error(`${what(i)}: bits ${hex(got[i])}, expected ${hex(want[i])}`);
    }
  }
}

/**
 * Checks an f16 buffer against expected f16 bits two ways: read by the host (the value of every
 * non-NaN pattern is distinct, -0 included) and widened on the device by f16_to_f32 (raw f32
 * bits; for NaN the sign must match).
 */
async function assertHalfBits(
  be: Backend,
  buf: DeviceBuffer,
  want: Uint16Array,
  what: (i: number) => string,
): Promise<void> {
  const n = want.length;
  const values = new Float16Array(want.buffer, want.byteOffset, n);
  const wideBits = new Uint32Array(Float32Array.from(values).buffer);
  const host = await be.read(buf);
  const wide = be.alloc(n);
  be.dispatch("f16_to_f32", [buf, wide], [n]);
  const wbits = await readF32Bits(be, wide);
  be.free(wide);
  for (let i = 0; i < n; i++) {
    const h = want[i], v = values[i];
    const fail = (how: string) => new Error(`${what(i)}: ${how}, expected ${v} (${hex(h, 4)})`);
    if (Number.isNaN(v)) {
      if (!Number.isNaN(host[i])) throw fail(`read ${host[i]}`);
      const nan = (wbits[i] & 0x7fffffff) > 0x7f800000;
      if (!nan || wbits[i] >>> 31 !== h >>> 15) throw fail(`widened ${hex(wbits[i])}`);
      continue;
    }
    if (!Object.is(host[i], v)) throw fail(`read ${host[i]}`);
    if (wbits[i] !== wideBits[i]) throw fail(`widened ${hex(wbits[i])}, not ${hex(wideBits[i])}`);
  }
}

// ---- references ----------------------------------------------------------------------------

/** [dst index, src index] of every element a scatter writes. */
type Pairs = [number, number][];

function scatterRowsPairs(units: number[], d: number): Pairs {
  const out: Pairs = [];
  units.forEach((u, t) => {
    if (u >= 0) { for (let c = 0; c < d; c++) out.push([u * d + c, t * d + c]); }
  });
  return out;
}

function scatterColsPairs(units: number[], rows: number, cols: number): Pairs {
  const out: Pairs = [];
  const k = units.length;
  for (let r = 0; r < rows; r++) {
    units.forEach((u, j) => {
      if (u >= 0) out.push([r * cols + u, r * k + j]);
    });
  }
  return out;
}

/** The element of x that out[r * k + j] copies, or -1 for a zero. */
function gatherSource(units: number[], rows: number, cols: number): Int32Array {
  const k = units.length;
  const src = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    units.forEach((u, j) => src[r * k + j] = u < 0 ? -1 : r * cols + u);
  }
  return src;
}

// ---- gather_cols ---------------------------------------------------------------------------

interface ColsCase {
  rows: number;
  cols: number;
  fraction: number;
  invalid: number;
  seed: number;
}

const colsCaseArb = (maxRows: number, maxCols: number): fc.Arbitrary<ColsCase> =>
  fc.record({
    rows: dimArb(maxRows),
    cols: dimArb(maxCols),
    fraction: fractionArb,
    invalid: invalidArb,
    seed: seedArb,
  });

function colsIds({ cols, fraction, invalid, seed }: ColsCase): Ids {
  return makeIds(cols, Math.round(fraction * cols), invalid, seed + 7);
}

testBackends("gather_cols copies the selected columns' bits and zeroes invalid ids", async (be) => {
  await fc.assert(
    fc.asyncProperty(colsCaseArb(13, 40), async (cs) => {
      const { rows, cols, seed } = cs;
      const { ids, units } = colsIds(cs);
      const k = ids.length;
      const x = f32Bits(rows * cols, seed);
      const [bx, bi, bo] = [putF32(be, x), putIds(be, ids), be.alloc(rows * k)];
      be.upload(bo, new Float32Array(rows * k).fill(POISON));
      be.dispatch("gather_cols", [bx, bi, bo], [rows, cols, k]);
      const got = await readF32Bits(be, bo);
      [bx, bi, bo].forEach((b) => be.free(b));
      const from = gatherSource(units, rows, cols);
      const want = Uint32Array.from(from, (s) => s < 0 ? 0 : x[s]);
      assertBits(got, want, (i) => `${JSON.stringify(cs)} out ${i} (id ${ids[i % k]})`);
    }),
    FC_RUNS,
  );
});

testBackends("gather_cols_f16 widens the selected columns of an f16 matrix exactly", async (be) => {
  await fc.assert(
    fc.asyncProperty(colsCaseArb(13, 40), async (cs) => {
      const { rows, cols, seed } = cs;
      const { ids, units } = colsIds(cs);
      const k = ids.length;
      // Uploaded as f16 from f32 values; NaN-free, so that the host reference is a value.
      const x = f16Sources(rows * cols, seed).map((v) => Number.isNaN(v) ? -0 : v);
      const bx = be.alloc(rows * cols, "f16");
      be.upload(bx, x);
      const [bi, bo] = [putIds(be, ids), be.alloc(rows * k)];
      be.upload(bo, new Float32Array(rows * k).fill(POISON));
      be.dispatch("gather_cols_f16", [bx, bi, bo], [rows, cols, k]);
      const got = await be.read(bo);
      [bx, bi, bo].forEach((b) => be.free(b));
      const from = gatherSource(units, rows, cols);
      const want = Float64Array.from(from, (s) => s < 0 ? 0 : Math.f16round(x[s]));
      for (let i = 0; i < want.length; i++) {
        if (!Object.is(got[i], want[i])) {
          throw new Error(
            `${JSON.stringify(cs)} out ${i} (id ${ids[i % k]}): ${got[i]}, expected ${want[i]}`,
          );
        }
      }
    }),
    FC_RUNS,
  );
});

// ---- scatters ------------------------------------------------------------------------------

/** A scatter case: the kernel's params, shapes and which dst element each src element writes. */
interface Scatter {
  params: number[];
  srcLen: number;
  dstLen: number;
  /** The id buffers, bound after src. */
  ids: Float32Array[];
  pairs: Pairs;
  what: string;
}

interface RowsCase {
  d: number;
  V: number;
  fraction: number;
  invalid: number;
  seed: number;
}

const rowsCaseArb = (maxD: number, maxV: number): fc.Arbitrary<RowsCase> =>
  fc.record({
    d: dimArb(maxD),
    V: dimArb(maxV),
    fraction: fractionArb,
    invalid: invalidArb,
    seed: seedArb,
  });

function rowsScatter(cs: RowsCase): Scatter {
  const { d, V, fraction, invalid, seed } = cs;
  const ids = makeIds(V, Math.round(fraction * V), invalid, seed + 7);
  const k = ids.ids.length;
  return {
    params: [k, d, V],
    srcLen: k * d,
    dstLen: V * d,
    ids: [ids.ids],
    pairs: scatterRowsPairs(ids.units, d),
    what: describe(cs, ids),
  };
}

function colsScatter(cs: ColsCase): Scatter {
  const { rows, cols } = cs;
  const ids = colsIds(cs);
  const k = ids.ids.length;
  return {
    params: [rows, cols, k],
    srcLen: rows * k,
    dstLen: rows * cols,
    ids: [ids.ids],
    pairs: scatterColsPairs(ids.units, rows, cols),
    what: describe(cs, ids),
  };
}

/** A case and, when there are few, its ids. */
function describe(cs: RowsCase | ColsCase, ids: Ids): string {
  return `${JSON.stringify(cs)}` + (ids.ids.length <= 60 ? ` ids [${[...ids.ids]}]` : "");
}

/** Runs an f32 scatter over a dst of random bits: selected entries get src's bits, no other. */
async function checkScatterF32(be: Backend, kernel: string, sc: Scatter, seed: number) {
  const src = f32Bits(sc.srcLen, seed + 1), dst0 = f32Bits(sc.dstLen, seed + 2);
  const [bs, bd] = [putF32(be, src), putF32(be, dst0)];
  const bi = sc.ids.map((ids) => putIds(be, ids));
  be.dispatch(kernel, [bs, ...bi, bd], sc.params);
  const got = await readF32Bits(be, bd);
  [bs, ...bi, bd].forEach((b) => be.free(b));
  const want = dst0.slice();
  const written = new Uint8Array(sc.dstLen);
  for (const [o, s] of sc.pairs) {
    ok(!written[o], `${sc.what}: the reference writes ${o} twice`);
    written[o] = 1;
    want[o] = src[s];
  }
  assertBits(
    got,
    want,
    (i) => `${kernel} ${sc.what}: dst ${i} (${written[i] ? "" : "not "}written)`,
  );
}

/**
 * Runs an f16 scatter over a dst of random f16 bits: selected entries get the f16 rounding of
 * src, every other half keeps its bits.
 */
async function checkScatterF16(be: Backend, kernel: string, sc: Scatter, seed: number) {
  const src = f16Sources(sc.srcLen, seed + 1), dst0 = halfBitsNoNaN(sc.dstLen, seed + 2);
  const bs = putIds(be, src), bi = sc.ids.map((ids) => putIds(be, ids));
  const bd = be.alloc(sc.dstLen, "f16");
  be.upload(bd, dst0);
  be.dispatch(kernel, [bs, ...bi, bd], sc.params);
  const want = dst0.slice(), rounded = halfBitsOf(src);
  const written = new Uint8Array(sc.dstLen);
  for (const [o, s] of sc.pairs) {
    written[o] = 1;
    want[o] = rounded[s];
  }
  await assertHalfBits(be, bd, want, (i) => {
    const s = sc.pairs.find(([o]) => o === i)?.[1];
    return `${kernel} ${sc.what}: dst ${i} (${written[i] ? `src ${src[s!]}` : "not written"})`;
  });
  [bs, ...bi, bd].forEach((b) => be.free(b));
}

/**
 * A scatter_entries case: a random `fraction` of the rows x cols entries, distinct, in random
 * order (ids with fractions, 0 sometimes as -0), with `invalid` entries mixed in whose row id,
 * column id or both select nothing.
 */
function entriesScatter(cs: ColsCase): Scatter {
  const { rows, cols, fraction, invalid, seed } = cs;
  const next = rng(seed + 7);
  const n = rows * cols;
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const id = (u: number) => {
    const r = next() % 4;
    if (u === 0 && r === 0) return -0;
    return r === 1 ? u + [0.25, 0.5, 0.75][next() % 3] : u;
  };
  const entries: [number, number][] = perm.slice(0, Math.round(fraction * n))
    .map((e) => [id(Math.floor(e / cols)), id(e % cols)]);
  const badRows = invalidIds(rows), badCols = invalidIds(cols);
  for (let i = 0; i < invalid; i++) {
    const kind = next() % 3;
    const r = kind === 1 ? next() % rows : badRows[next() % badRows.length];
    const c = kind === 0 ? next() % cols : badCols[next() % badCols.length];
    entries.splice(next() % (entries.length + 1), 0, [r, c]);
  }
  const rowIds = Float32Array.from(entries, ([r]) => r);
  const colIds = Float32Array.from(entries, ([, c]) => c);
  const pairs: Pairs = [];
  const unit = (id: number, m: number) => id >= 0 && id < m ? Math.floor(id) : -1;
  rowIds.forEach((r, i) => {
    const [u, v] = [unit(r, rows), unit(colIds[i], cols)];
    if (u >= 0 && v >= 0) pairs.push([u * cols + v, i]);
  });
  const few = entries.length <= 30;
  return {
    params: [entries.length, rows, cols],
    srcLen: entries.length,
    dstLen: n,
    ids: [rowIds, colIds],
    pairs,
    what: JSON.stringify(cs) +
      (few ? ` entries ${JSON.stringify([...rowIds].map((r, i) => [r, colIds[i]]))}` : ""),
  };
}

/** The property tests of one scatter kernel and its _f16 variant over random cases. */
function scatterTests<C extends { seed: number }>(
  kernel: string,
  units: string,
  arb: fc.Arbitrary<C>,
  make: (cs: C) => Scatter,
): void {
  testBackends(`${kernel} writes the selected ${units}' bits and leaves the rest`, async (be) => {
    await fc.assert(
      fc.asyncProperty(arb, (cs) => checkScatterF32(be, kernel, make(cs), cs.seed)),
      FC_RUNS,
    );
  });
  testBackends(`${kernel}_f16 rounds ${units} to f16 and keeps the other halves`, async (be) => {
    await fc.assert(
      fc.asyncProperty(arb, (cs) => checkScatterF16(be, `${kernel}_f16`, make(cs), cs.seed)),
      FC_RUNS,
    );
  });
}

scatterTests("scatter_rows", "rows", rowsCaseArb(37, 40), rowsScatter);
scatterTests("scatter_cols", "columns", colsCaseArb(13, 40), colsScatter);
scatterTests("scatter_entries", "entries", colsCaseArb(13, 40), entriesScatter);

testBackends("f16 scatters keep shared words whole on large shapes", async (be) => {
  // Every word written by two invocations (odd d, all rows; odd cols, all columns; all entries),
  // and every other unit (entry) selected (each written word keeps one untouched half), in
  // shuffled order.
  const cases: [string, Scatter][] = [];
  for (const [d, V] of [[129, 257], [7, 4099]]) {
    for (const fraction of [1, 0.5]) {
      cases.push(["scatter_rows_f16", rowsScatter({ d, V, fraction, invalid: 2, seed: d + V })]);
    }
  }
  for (const [rows, cols] of [[257, 129], [1001, 33]]) {
    for (const fraction of [1, 0.5]) {
      const sc = colsScatter({ rows, cols, fraction, invalid: 1, seed: rows + cols });
      cases.push(["scatter_cols_f16", sc]);
    }
  }
  for (const [rows, cols] of [[129, 257], [3, 20001]]) {
    for (const fraction of [1, 0.5]) {
      const sc = entriesScatter({ rows, cols, fraction, invalid: 3, seed: rows * cols });
      cases.push(["scatter_entries_f16", sc]);
    }
  }
  for (const [i, [kernel, sc]] of cases.entries()) await checkScatterF16(be, kernel, sc, 31 * i);
});

// ---- validation ----------------------------------------------------------------------------

testBackends("unit kernels reject too-small buffers and wrong dtypes with BackendError", (be) => {
  const rejects = (name: string, bufs: DeviceBuffer[], p: number[], words: RegExp) =>
    assertThrows(() => be.dispatch(name, bufs, p), (e: unknown) => {
      ok(e instanceof BackendError, `${name}: ${e}`);
      ok(words.test(e.message), `${name}: "${e.message}" does not match ${words}`);
      return true;
    });
  const [rows, cols, k] = [3, 5, 2];
  // [kernel, params, sizes, dtypes] with sizes inputs then outputs.
  const kernels: [string, number[], number[], ("f32" | "f16")[]][] = [
    ["gather_cols", [rows, cols, k], [rows * cols, k, rows * k], ["f32", "f32", "f32"]],
    ["gather_cols_f16", [rows, cols, k], [rows * cols, k, rows * k], ["f16", "f32", "f32"]],
    ["scatter_rows", [k, cols, rows], [k * cols, k, rows * cols], ["f32", "f32", "f32"]],
    ["scatter_rows_f16", [k, cols, rows], [k * cols, k, rows * cols], ["f32", "f32", "f16"]],
    ["scatter_cols", [rows, cols, k], [rows * k, k, rows * cols], ["f32", "f32", "f32"]],
    ["scatter_cols_f16", [rows, cols, k], [rows * k, k, rows * cols], ["f32", "f32", "f16"]],
    ["scatter_entries", [k, rows, cols], [k, k, k, rows * cols], ["f32", "f32", "f32", "f32"]],
    ["scatter_entries_f16", [k, rows, cols], [k, k, k, rows * cols], ["f32", "f32", "f32", "f16"]],
  ];
  for (const [name, params, sizes, dtypes] of kernels) {
    const fit = sizes.map((n, i) => be.alloc(n, dtypes[i]));
    be.upload(fit[1], Float32Array.of(1, 0));
    be.dispatch(name, fit, params);
    sizes.forEach((n, i) => {
      const short = be.alloc(n - 1, dtypes[i]);
      const bufs = fit.map((b, j) => j === i ? short : b);
      rejects(name, bufs, params, new RegExp(`holds ${n - 1} elements, needs ${n}`));
      be.free(short);
    });
    dtypes.forEach((t, i) => {
      const other = t === "f16" ? "f32" : "f16";
      const wrong = be.alloc(sizes[i], other);
      rejects(name, fit.map((b, j) => j === i ? wrong : b), params, new RegExp(`holds ${other}`));
      be.free(wrong);
    });
    rejects(name, fit.slice(0, 2), params, new RegExp(`expected ${sizes.length} buffers`));
    rejects(name, fit, params.slice(0, 2), /expected 3 params/);
    fit.forEach((b) => be.free(b));
  }
});
