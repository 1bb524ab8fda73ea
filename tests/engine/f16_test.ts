// Tests of f16 storage on both backends: the conversion kernels (f32_to_f16 bit for bit against
// the host's Math.f16round over random f32 bit patterns and the edge cases of rounding, f16_to_f32
// over all 65536 patterns), matmul_f16 / matmul_nt_f16 against float64 (and, on WASM, bit for bit
// against matmul / matmul_nt on the widened B, on 1 and 3 threads), embedding_f16, dtype and slice
// validation, upload / read / copy of f16 buffers, and on WebGPU the reads through shader-f16
// against the packed reads, bit for bit.

import fc from "fast-check";
import { deepStrictEqual, ok, throws as assertThrows } from "node:assert/strict";
import { type Backend, BackendError, type DeviceBuffer } from "../../engine/backend.ts";
import { createWasmBackend, type WasmBackend } from "../../engine/wasm/backend.ts";
import { createWebGpuBackend, requestAdapter } from "../../engine/webgpu/backend.ts";
import { MIN_PARALLEL_MACS } from "../../engine/wasm/split.ts";
import { assertClose, FC_RUNS, POISON, randomData, seedArb } from "../helpers/reference.ts";
import { getBackend, hasWebGpu, testBackends } from "../helpers/backends.ts";
import {
  type Case,
  caseArb,
  matmulRef,
  type MatmulVariant,
  SKINNY_CASES,
  span,
  SPLIT_SHAPES,
  termsOf,
} from "../helpers/matmul.ts";

const isGpu = (be: Backend) => be.name === "webgpu";

// ---- host references -----------------------------------------------------------------------

const f32Bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];

/** f16 bits of the f32 value x rounded to nearest, ties to even (NaN: sign | 0x7e00). */
function halfBitsOf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  return new Uint16Array(Float16Array.of(x).buffer)[0];
}

/** f32 bits of the f16 bit pattern h, widened exactly (NaN payloads kept). */
function widenBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  if ((h & 0x7c00) === 0x7c00) return (sign | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0;
  return f32Bits(new Float16Array(Uint16Array.of(h).buffer)[0]);
}

const isNaNBits = (b: number) => (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0;

/** Values rounded to f16 (so that float64 products with them are exact references). */
function halfData(n: number, seed: number): Float32Array {
  return randomData(n, seed).map((v) => Math.f16round(v));
}

function put(be: Backend, data: Float32Array, dtype: "f32" | "f16" = "f32"): DeviceBuffer {
  const b = be.alloc(data.length, dtype);
  be.upload(b, data);
  return b;
}

/** Raw bits of an f32 buffer. */
async function readBits(be: Backend, buf: DeviceBuffer): Promise<Uint32Array> {
  return new Uint32Array((await be.read(buf)).buffer);
}

// ---- f32_to_f16 ----------------------------------------------------------------------------

/**
 * Converts the f32 bit patterns `bits` on the device and checks the f16 result two ways: read
 * back widened by the host, and widened on the device by f16_to_f32 (raw bits, NaN signs).
 */
async function checkToHalf(be: Backend, bits: Uint32Array, what: string): Promise<void> {
  const n = bits.length;
  const x = new Float32Array(bits.buffer, bits.byteOffset, n);
  const bx = put(be, x), bh = be.alloc(n, "f16"), bw = be.alloc(n);
  be.dispatch("f32_to_f16", [bx, bh], [n]);
  be.dispatch("f16_to_f32", [bh, bw], [n]);
  const host = await be.read(bh);
  const wide = await readBits(be, bw);
  [bx, bh, bw].forEach((b) => be.free(b));
  for (let i = 0; i < n; i++) {
    const want = halfBitsOf(x[i]);
    const where = `${what}: element ${i}, x = ${x[i]} (0x${bits[i].toString(16)})`;
    if (Number.isNaN(x[i])) {
      ok(Number.isNaN(host[i]), `${where}: read gives ${host[i]}, expected NaN`);
      ok(isNaNBits(wide[i]), `${where}: round trip gives 0x${wide[i].toString(16)}, not a NaN`);
      ok(wide[i] >>> 31 === bits[i] >>> 31, `${where}: NaN sign lost (0x${wide[i].toString(16)})`);
      continue;
    }
    ok(Object.is(host[i], Math.f16round(x[i])), `${where}: read gives ${host[i]}`);
    const w = widenBits(want);
    ok(
      wide[i] === w,
      `${where}: round trip 0x${wide[i].toString(16)}, expected 0x${w.toString(16)}`,
    );
  }
}

/** f32 values on the edges of f16 rounding. */
const EDGES: number[] = [
  0,
  -0,
  1,
  -1,
  65504, // largest f16
  65519.99, // rounds down to 65504
  65520, // half an ulp above: Infinity
  -65520,
  65536,
  1e10,
  3.4028234663852886e38, // largest f32
  Infinity,
  -Infinity,
  NaN,
  2 ** -14, // smallest normal f16
  2 ** -14 - 2 ** -24, // largest subnormal
  2 ** -14 - 2 ** -25, // tie between the largest subnormal and the smallest normal: normal (even)
  2 ** -24, // smallest subnormal
  -(2 ** -24),
  2 ** -25, // tie between 0 and 2^-24: 0
  -(2 ** -25),
  2 ** -25 + 2 ** -40, // just above the tie: 2^-24
  3 * 2 ** -26, // 0.75 * 2^-24: 2^-24
  3 * 2 ** -25, // 1.5 * 2^-24: tie, to 2 * 2^-24 (even)
  5 * 2 ** -25, // 2.5 * 2^-24: tie, to 2 * 2^-24 (even)
  2 ** -26,
  1.401298464324817e-45, // smallest f32 subnormal
  1.1754942106924411e-38, // largest f32 subnormal
  1 + 2 ** -11, // tie: 1
  1 + 3 * 2 ** -11, // tie: 1 + 2^-9
  1 + 2 ** -11 + 2 ** -23, // above the tie: 1 + 2^-10
  2049,
  2050,
  2051,
  4097,
  0.1,
  1 / 3,
  -2 / 3,
  6.097555160522461e-5, // 1023 * 2^-24 + a bit
];

const EDGE_BITS = Uint32Array.from([
  ...EDGES.map(f32Bits),
  0xffc00000, // -NaN
  0x7f800001, // signaling NaN
  0xff800001,
  0x7fbfffff,
  0x7fffffff,
  0x477fefff, // just below 65520
  0x477ff000, // 65520
  0x387fffff, // just below 2^-14
  0x33000000, // 2^-25
  0x33000001,
  0x337fffff,
  0x80000001,
]);

testBackends("f32_to_f16 rounds the edge cases like Math.f16round", async (be) => {
  // Twice, at two offsets of a vector: the SIMD body and the scalar tail both see every case.
  await checkToHalf(be, EDGE_BITS, "edges");
  await checkToHalf(be, Uint32Array.from([1, 2, 3, ...EDGE_BITS]), "edges shifted");
});

testBackends("f32_to_f16 matches Math.f16round on random f32 bit patterns", async (be) => {
  const word = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 0xffffffff }), weight: 4 },
    // Near the f16 range: normal, subnormal and overflowing magnitudes.
    { arbitrary: fc.integer({ min: 0x33000000, max: 0x47800000 }), weight: 4 },
    { arbitrary: fc.constantFrom(...EDGE_BITS), weight: 1 },
  ).map((w) => w >>> 0);
  await fc.assert(
    fc.asyncProperty(
      fc.array(word, { minLength: 1, maxLength: isGpu(be) ? 300 : 2000 }),
      (ws) => checkToHalf(be, Uint32Array.from(ws), "random"),
    ),
    FC_RUNS,
  );
});

// ---- f16_to_f32 ----------------------------------------------------------------------------

testBackends("f16_to_f32 widens all 65536 bit patterns exactly", async (be) => {
  const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const bh = be.alloc(65536, "f16"), bw = be.alloc(65536);
  be.upload(bh, bits);
  be.dispatch("f16_to_f32", [bh, bw], [65536]);
  const wide = await readBits(be, bw);
  const host = await be.read(bh);
  for (let h = 0; h < 65536; h++) {
    const want = widenBits(h);
    if (
      wide[h] !== want && !(isNaNBits(want) && isNaNBits(wide[h]) && wide[h] >>> 31 === h >>> 15)
    ) {
      throw new Error(
        `f16 0x${h.toString(16)}: 0x${wide[h].toString(16)}, expected 0x${want.toString(16)}`,
      );
    }
    const v = new Float16Array(Uint16Array.of(h).buffer)[0];
    ok(
      Object.is(host[h], v) || (Number.isNaN(v) && Number.isNaN(host[h])),
      `read of 0x${h.toString(16)}`,
    );
  }
  // A partial dispatch leaves the rest of the output alone (n = 13: vector body and tail).
  be.upload(bw, new Float32Array(65536).fill(7));
  be.dispatch("f16_to_f32", [bh, bw], [13]);
  const part = await be.read(bw, 0, 20);
  deepStrictEqual([...part.subarray(13)], [7, 7, 7, 7, 7, 7, 7]);
  [bh, bw].forEach((b) => be.free(b));
});

// ---- matmul_f16 / matmul_nt_f16 ------------------------------------------------------------

type Variant = "matmul_f16" | "matmul_nt_f16";
const VARIANTS: Variant[] = ["matmul_f16", "matmul_nt_f16"];
const F32_OF: Record<Variant, MatmulVariant> = { matmul_f16: "matmul", matmul_nt_f16: "matmul_nt" };

/** The product on `be`: C's final contents. `b` must be f16-representable. */
async function runF16(
  be: Backend,
  v: string,
  a: Float32Array,
  b: Float32Array,
  c0: Float32Array,
  cs: Case,
  bDtype: "f32" | "f16" = "f16",
): Promise<Float32Array> {
  const { batch, m, n, k, strideA, strideB, accumulate } = cs;
  const [da, db, dc] = [put(be, a), put(be, b, bDtype), put(be, c0)];
  be.dispatch(v, [da, db, dc], [batch, m, n, k, strideA, strideB, accumulate]);
  const got = await be.read(dc);
  [da, db, dc].forEach((x) => be.free(x));
  return got;
}

/**
 * Runs one case against float64 and, on WASM, against the f32 kernel on the widened B, which
 * must agree bit for bit (the f16 kernels widen B exactly and keep the f32 blocking).
 */
async function checkCase(be: Backend, v: Variant, cs: Case, seed: number, tol = 1e-4) {
  const { batch, m, n, k, strideA, strideB, accumulate } = cs;
  const a = randomData(span(batch, strideA, m * k), seed);
  const b = halfData(span(batch, strideB, k * n), seed + 1);
  const c0 = accumulate
    ? randomData(batch * m * n, seed + 2)
    : new Float32Array(batch * m * n).fill(POISON);
  const got = await runF16(be, v, a, b, c0, cs);
  const what = `${v} ${JSON.stringify(cs)}`;
  assertClose(got, matmulRef(F32_OF[v], a, b, cs, c0), tol, what, termsOf(F32_OF[v], a, b, cs, c0));
  if (!isGpu(be) && k <= 245760) {
    deepStrictEqual(got, await runF16(be, F32_OF[v], a, b, c0, cs, "f32"), `${what} vs f32`);
  }
}

for (const v of VARIANTS) {
  testBackends(`${v} matches float64 on random shapes, strides and accumulate`, async (be) => {
    await fc.assert(
      fc.asyncProperty(
        caseArb(isGpu(be) ? 40 : 70),
        seedArb,
        (cs, seed) => checkCase(be, v, cs, seed),
      ),
      { numRuns: isGpu(be) ? 12 : 40 },
    );
  });
}

// Shapes that cross the WASM kernel's blocks (KC 256, NC 960, 6x8 tiles, the widened block), its
// streamed paths for few rows (one pass and passes of 4 rows, several widened blocks), and a
// depth beyond the widening area of matmul_nt_f16's streamed path.
for (const v of VARIANTS) {
  Deno.test({
    name: `${v} matches float64 on shapes crossing the WASM blocks [wasm]`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const be = await getBackend("wasm");
      const fixed: Case[] = [
        { batch: 1, m: 37, n: 1001, k: 300, strideA: 0, strideB: 0, accumulate: 1 },
        { batch: 1, m: 70, n: 97, k: 513, strideA: 0, strideB: 0, accumulate: 0 },
        { batch: 1, m: 1, n: 2309, k: 770, strideA: 0, strideB: 0, accumulate: 1 },
        { batch: 2, m: 15, n: 1003, k: 301, strideA: 15 * 301, strideB: 0, accumulate: 0 },
        { batch: 1, m: 13, n: 700, k: 3001, strideA: 0, strideB: 0, accumulate: 0 },
        { batch: 3, m: 5, n: 330, k: 1000, strideA: 0, strideB: 330 * 1000 + 3, accumulate: 1 },
      ];
      for (const [i, cs] of fixed.entries()) await checkCase(be, v, cs, 100 + i);
    },
  });
}

for (const v of VARIANTS) {
  testBackends(`${v} matches float64 on few-row shapes (the skinny path)`, async (be) => {
    for (const [i, cs] of SKINNY_CASES.entries()) await checkCase(be, v, cs, 300 + i);
  });
}

Deno.test({
  name: "matmul_nt_f16 with a depth beyond the widening area (few rows) [wasm]",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const be = await getBackend("wasm");
    const k = 245760 + 1003;
    await checkCase(
      be,
      "matmul_nt_f16",
      { batch: 1, m: 2, n: 3, k, strideA: 0, strideB: 0, accumulate: 0 },
      9,
      1e-3,
    );
  },
});

Deno.test("matmul_f16 and matmul_nt_f16 on 3 threads equal 1 thread bit for bit", async () => {
  const one = await createWasmBackend({ threads: 1 });
  const three = await createWasmBackend({ threads: 3 });
  const product = async (be: WasmBackend, v: Variant, s: readonly number[], seed: number) => {
    const [batch, m, n, k, strideA, strideB] = s;
    const cs = { batch, m, n, k, strideA, strideB, accumulate: 1 };
    const a = randomData(span(batch, strideA, m * k), seed);
    const b = halfData(span(batch, strideB, k * n), seed + 1);
    return await runF16(be, v, a, b, randomData(batch * m * n, seed + 2), cs);
  };
  try {
    for (const [i, s] of SPLIT_SHAPES.entries()) {
      const [batch, m, n, k] = s;
      ok(batch * m * n * k >= MIN_PARALLEL_MACS, `shape ${s} is above the threshold`);
      for (const v of VARIANTS) {
        deepStrictEqual(
          await product(three, v, s, 10 * i),
          await product(one, v, s, 10 * i),
          `${v} ${s}`,
        );
      }
    }
  } finally {
    one.dispose();
    three.dispose();
  }
});

testBackends("matmul_f16 with k = 0 writes zeros (or leaves C when accumulating)", async (be) => {
  const a = be.alloc(1), b = be.alloc(2, "f16"), c = be.alloc(6);
  be.upload(c, new Float32Array(6).fill(POISON));
  be.dispatch("matmul_f16", [a, b, c], [2, 1, 3, 0, 0, 0, 0]);
  assertClose(await be.read(c), [0, 0, 0, 0, 0, 0], 0, "k=0");
  be.upload(c, Float32Array.from([1, 2, 3, 4, 5, 6]));
  be.dispatch("matmul_nt_f16", [a, b, c], [2, 3, 1, 0, 0, 0, 1]);
  assertClose(await be.read(c), [1, 2, 3, 4, 5, 6], 0, "k=0 accumulate");
  [a, b, c].forEach((x) => be.free(x));
});

testBackends("matmul_f16 reads B through an aligned slice of an f16 buffer", async (be) => {
  const [m, n, k] = [3, 5, 7];
  const a = randomData(m * k, 3), b = halfData(k * n, 4);
  const da = put(be, a), dc = be.alloc(m * n);
  const whole = be.alloc(256 + k * n, "f16");
  be.upload(whole, new Float32Array(256).fill(NaN));
  be.upload(whole, b, 256);
  be.dispatch("matmul_f16", [da, { buffer: whole, offset: 256, length: k * n }, dc], [
    1,
    m,
    n,
    k,
    0,
    0,
    0,
  ]);
  const cs = { batch: 1, m, n, k, strideA: 0, strideB: 0, accumulate: 0 };
  assertClose(await be.read(dc), matmulRef("matmul", a, b, cs), 1e-5, "slice");
  [da, dc, whole].forEach((x) => be.free(x));
});

// ---- embedding_f16 -------------------------------------------------------------------------

testBackends("embedding_f16 gathers widened rows and zeroes out-of-range ids", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 1, max: 40 }),
      seedArb,
      async (n, d, V, seed) => {
        const table = halfData(V * d, seed);
        table[0] = -0;
        const ids = randomData(n, seed + 1).map((u, t) => {
          const a = (u + 1) / 2;
          if (a < 0.2) return [-1, V, V + 7, NaN, -0.5, V - 0.5][t % 6];
          return Math.min(V - 1, Math.floor(a * V)) + (t % 3 === 0 ? 0.5 : 0);
        });
        const [bt, bi, bo] = [put(be, table, "f16"), put(be, ids), be.alloc(n * d)];
        be.upload(bo, new Float32Array(n * d).fill(POISON));
        be.dispatch("embedding_f16", [bt, bi, bo], [n, d, V]);
        const got = await be.read(bo);
        for (let t = 0; t < n; t++) {
          const id = ids[t];
          const row = id >= 0 && id < V ? Math.floor(id) : -1;
          for (let c = 0; c < d; c++) {
            const want = row < 0 ? 0 : table[row * d + c];
            if (!Object.is(got[t * d + c], want)) {
              throw new Error(`id ${id} (t ${t}) column ${c}: ${got[t * d + c]}, expected ${want}`);
            }
          }
        }
        [bt, bi, bo].forEach((x) => be.free(x));
      },
    ),
    FC_RUNS,
  );
});

// ---- validation ----------------------------------------------------------------------------

testBackends("f16 kernels reject buffers of the wrong dtype with BackendError", (be) => {
  const [m, n, k] = [2, 3, 4];
  const a = be.alloc(m * k), b32 = be.alloc(k * n), b16 = be.alloc(k * n, "f16");
  const c = be.alloc(m * n), c16 = be.alloc(m * n, "f16");
  const params = [1, m, n, k, 0, 0, 0];
  const rejects = (name: string, bufs: DeviceBuffer[], p: number[], words: RegExp) =>
    assertThrows(() => be.dispatch(name, bufs, p), (e: unknown) => {
      ok(e instanceof BackendError, `${name}: ${e}`);
      ok(words.test(e.message), `${name}: "${e.message}" does not match ${words}`);
      return true;
    });
  for (const v of VARIANTS) {
    be.dispatch(v, [a, b16, c], params);
    rejects(v, [a, b32, c], params, /holds f32.*reads f16/);
    rejects(v, [a, b16, c16], params, /holds f16.*reads f32/);
  }
  rejects("matmul", [a, b16, c], params, /holds f16.*reads f32/);
  rejects("f32_to_f16", [a, c], [4], /holds f32.*reads f16/);
  rejects("f16_to_f32", [a, c], [4], /holds f32.*reads f16/);
  rejects("embedding_f16", [a, c, c], [1, 2, 3], /holds f32.*reads f16/);
  // Sizes count elements, not bytes.
  const short = be.alloc(k * n - 1, "f16");
  rejects("matmul_f16", [a, short, c], params, /holds 11 elements, needs 12/);
  // An upload of f16 bits into an f32 buffer, a copy across dtypes.
  assertThrows(() => be.upload(b32, new Uint16Array(2)), BackendError);
  assertThrows(() => be.copy(b16, 0, b32, 0, 2), BackendError);
  [a, b32, b16, c, c16, short].forEach((x) => be.free(x));
});

testBackends("slices of f16 buffers must start on 128 elements (256 bytes)", async (be) => {
  // The WASM backend checks slice alignment when it enforces a binding limit, as WebGPU does.
  const dev = isGpu(be) ? be : await createWasmBackend({ threads: 1, maxBindingBytes: 1 << 20 });
  try {
    const h = dev.alloc(512, "f16"), y = dev.alloc(128), y32 = dev.alloc(512);
    const bits = Uint16Array.from({ length: 512 }, (_, i) => 0x3c00 + i); // 1 + i * 2^-10
    dev.upload(h, bits);
    for (const offset of [64, 2, 1, 192]) {
      assertThrows(
        () => dev.dispatch("f16_to_f32", [{ buffer: h, offset, length: 128 }, y], [128]),
        BackendError,
        `f16 slice at ${offset}`,
      );
    }
    dev.dispatch("f16_to_f32", [{ buffer: h, offset: 256, length: 128 }, y], [128]);
    const got = await dev.read(y);
    for (let i = 0; i < 128; i++) ok(got[i] === 1 + (256 + i) / 1024, `element ${i}: ${got[i]}`);
    // An f32 buffer may be sliced at 64 elements (the same 256 bytes).
    dev.dispatch("f32_to_f16", [{ buffer: y32, offset: 64, length: 128 }, h], [128]);
    [h, y, y32].forEach((x) => dev.free(x));
  } finally {
    if (dev !== be) dev.dispose();
  }
});

// ---- upload / read / copy ------------------------------------------------------------------

testBackends("f16 buffers upload, read back and copy at odd lengths and offsets", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 41 }),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { minLength: 1, maxLength: 5 }),
      seedArb,
      async (len, ops, seed) => {
        // The host model of the buffer: f16 values as f32.
        const model = randomData(len, seed).map((v) => Math.f16round(v * 70000));
        const buf = be.alloc(len, "f16");
        be.upload(buf, model);
        const other = be.alloc(len + 3, "f16");
        be.upload(other, new Uint16Array(len + 3).fill(0x7bff)); // 65504
        const otherModel = new Float32Array(len + 3).fill(65504);
        for (const [x, y, raw] of ops) {
          // A range WebGPU can move (even start; odd length only up to the end), or on WASM any.
          let off = x % len, n = 1 + (y % (len - off));
          if (isGpu(be)) {
            off -= off % 2;
            n = Math.min(n, len - off);
            if (n % 2 && off + n < len) n++;
          }
          const data = randomData(n, seed + x).map((v) => v * 3);
          if (raw) {
            const bits = new Uint16Array(new Float16Array(data).buffer);
            be.upload(buf, bits, off);
          } else {
            be.upload(buf, data, off);
          }
          model.set(data.map((v) => Math.f16round(v)), off);
          // Reads may start and end anywhere.
          const r0 = y % len, r1 = r0 + 1 + (x % (len - r0));
          deepStrictEqual(
            await be.read(buf, r0, r1 - r0),
            model.slice(r0, r1),
            `read ${r0}..${r1}`,
          );
          // Copy the buffer's tail into `other` at an even offset, ending inside it.
          const at = 2 * (y % 2), cn = len - off;
          if (!isGpu(be) || (off % 2 === 0 && cn % 2 === 0)) {
            be.copy(buf, off, other, at, cn);
            otherModel.set(model.subarray(off), at);
          }
        }
        deepStrictEqual(await be.read(buf), model, "whole buffer");
        deepStrictEqual(await be.read(other), otherModel, "copy target");
        [buf, other].forEach((b) => be.free(b));
      },
    ),
    FC_RUNS,
  );
});

testBackends("f16 uploads round to nearest even and overflow to Infinity", async (be) => {
  const vals = Float32Array.from([65519, 65520, -1e6, 2 ** -25, 3 * 2 ** -25, 1 + 2 ** -11, NaN]);
  const buf = put(be, vals, "f16");
  const got = await be.read(buf);
  deepStrictEqual([...got], [65504, Infinity, -Infinity, 0, 2 ** -23, 1, NaN]);
  be.free(buf);
});

Deno.test({
  name: "WebGPU rejects f16 transfers it cannot do in whole words [webgpu]",
  ignore: !hasWebGpu,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const be = await getBackend("webgpu");
    const a = be.alloc(9, "f16"), b = be.alloc(9, "f16");
    assertThrows(() => be.upload(a, new Float32Array(2), 1), BackendError);
    assertThrows(() => be.upload(a, new Float32Array(3), 2), BackendError);
    assertThrows(() => be.copy(a, 1, b, 0, 2), BackendError);
    assertThrows(() => be.copy(a, 0, b, 0, 3), BackendError);
    be.upload(a, new Float32Array(3).fill(2), 6); // odd length up to the end
    be.copy(a, 6, b, 6, 3);
    deepStrictEqual([...await be.read(b, 5, 4)].slice(1), [2, 2, 2]);
    [a, b].forEach((x) => be.free(x));
  },
});

// ---- native f16 reads (shader-f16) against packed words ------------------------------------

const adapterHasF16 = hasWebGpu &&
  (await requestAdapter())?.features.has("shader-f16") === true;

Deno.test({
  name: "WebGPU reads f16 weights through shader-f16 bit for bit as through packed words [webgpu]",
  ignore: !adapterHasF16,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const native = (await createWebGpuBackend({ halfReads: "native" }))!;
    const packed = (await createWebGpuBackend({ halfReads: "packed" }))!;
    try {
      ok(native.nativeHalf && !packed.nativeHalf, "the options choose the read path");
      const same = (x: Float32Array, y: Float32Array, what: string) =>
        deepStrictEqual(new Uint32Array(x.buffer), new Uint32Array(y.buffer), what);
      await fc.assert(
        fc.asyncProperty(
          caseArb(40),
          seedArb,
          fc.constantFrom(...VARIANTS),
          async (cs, seed, v) => {
            const a = randomData(span(cs.batch, cs.strideA, cs.m * cs.k), seed);
            const b = halfData(span(cs.batch, cs.strideB, cs.k * cs.n), seed + 1);
            // Subnormal, signed zero, the largest half and infinities among the weights.
            b.set([2 ** -24, -0, 65504, -Infinity, 3 * 2 ** -20].slice(0, b.length));
            const c0 = randomData(cs.batch * cs.m * cs.n, seed + 2);
            same(
              await runF16(native, v, a, b, c0, cs),
              await runF16(packed, v, a, b, c0, cs),
              `${v} ${JSON.stringify(cs)}`,
            );
          },
        ),
        { numRuns: 12 },
      );
      // embedding_f16 and gather_cols_f16 on odd sizes, ids in and out of range.
      const [V, d, n, k] = [7, 13, 5, 3];
      const table = halfData(V * d, 3);
      table.set([2 ** -24, -0, 65504, Infinity]);
      const ids = Float32Array.from([0, 6, 7, -1, 3]);
      const cols = Float32Array.from([12, 0, 13]);
      for (
        const [kernel, idList, size, params] of [
          ["embedding_f16", ids, n * d, [n, d, V]],
          ["gather_cols_f16", cols, V * k, [V, d, k]],
        ] as const
      ) {
        const outs = [];
        for (const be of [native, packed]) {
          const [bt, bi, bo] = [put(be, table, "f16"), put(be, idList), be.alloc(size)];
          be.dispatch(kernel, [bt, bi, bo], [...params]);
          outs.push(await be.read(bo));
          [bt, bi, bo].forEach((x) => be.free(x));
        }
        same(outs[0], outs[1], kernel);
      }
    } finally {
      native.dispose();
      packed.dispose();
    }
  },
});
