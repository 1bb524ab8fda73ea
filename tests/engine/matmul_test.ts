// Property tests of the matmul kernels (matmul, matmul_tn, matmul_nt) and the bias helpers
// (bias_add, sum_rows) on both backends against float64 references, with gradient checks of the
// backward uses (dA = G B^T by matmul_nt, dB = A^T G by matmul_tn, dbias = sum_rows G) against
// central finite differences of the float64 forward, few-row shapes on both sides of the WGSL
// skinny path, and dispatch validation.

import fc from "fast-check";
import { throws as assertThrows } from "node:assert/strict";
import { type Backend, BackendError, type DeviceBuffer } from "../../engine/backend.ts";
import { assertClose, POISON, randomData, seedArb } from "../helpers/reference.ts";
import { getBackend, hasWebGpu, testBackends } from "../helpers/backends.ts";
import {
  type Case,
  caseArb,
  matmulRef,
  type MatmulVariant,
  SKINNY_CASES,
  span,
  termsOf,
} from "../helpers/matmul.ts";

type Variant = MatmulVariant;
const VARIANTS: Variant[] = ["matmul", "matmul_tn", "matmul_nt"];

function upload(be: Backend, data: Float32Array): DeviceBuffer {
  const d = be.alloc(data.length);
  be.upload(d, data);
  return d;
}

/** Runs one case on `be` and compares with the float64 reference. */
async function checkCase(be: Backend, v: Variant, cs: Case, seed: number): Promise<void> {
  const { batch, m, n, k, strideA, strideB, accumulate } = cs;
  const a = randomData(span(batch, strideA, m * k), seed);
  const b = randomData(span(batch, strideB, k * n), seed + 1);
  const c0 = accumulate
    ? randomData(batch * m * n, seed + 2)
    : new Float32Array(batch * m * n).fill(POISON);
  const [da, db, dc] = [upload(be, a), upload(be, b), upload(be, c0)];
  be.dispatch(v, [da, db, dc], [batch, m, n, k, strideA, strideB, accumulate]);
  const got = await be.read(dc);
  assertClose(
    got,
    matmulRef(v, a, b, cs, c0),
    1e-4,
    `${v} ${JSON.stringify(cs)}`,
    termsOf(v, a, b, cs, c0),
  );
  [da, db, dc].forEach((x) => be.free(x));
}

for (const v of VARIANTS) {
  testBackends(`${v} matches float64 on random shapes, strides and accumulate`, async (be) => {
    await fc.assert(
      fc.asyncProperty(
        caseArb(be.name === "webgpu" ? 100 : 80),
        seedArb,
        (cs, seed) => checkCase(be, v, cs, seed),
      ),
      { numRuns: be.name === "webgpu" ? 15 : 30 },
    );
  });
}

// Shapes that cross the WASM kernel's blocks (KC 256, MC 120, NC 960, 6x8 tiles), its streamed
// path for few rows and its threading threshold, so row bands, column bands and batch splits
// all run.
for (const v of VARIANTS) {
  Deno.test({
    name: `${v} matches float64 on large shapes crossing blocks and threads [wasm]`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const be = await getBackend("wasm");
      const fixed: Case[] = [
        { batch: 1, m: 300, n: 257, k: 263, strideA: 0, strideB: 0, accumulate: 0 },
        { batch: 1, m: 61, n: 1000, k: 300, strideA: 0, strideB: 0, accumulate: 1 },
        { batch: 2, m: 130, n: 97, k: 130, strideA: 130 * 130, strideB: 0, accumulate: 0 },
        { batch: 4, m: 97, n: 101, k: 103, strideA: 0, strideB: 101 * 103 + 5, accumulate: 1 },
        // Few rows: B streamed without packing (1 pass, 4 passes), then too large to stream.
        { batch: 1, m: 1, n: 2309, k: 770, strideA: 0, strideB: 0, accumulate: 1 },
        { batch: 2, m: 15, n: 1003, k: 301, strideA: 15 * 301, strideB: 0, accumulate: 0 },
        { batch: 1, m: 13, n: 700, k: 3001, strideA: 0, strideB: 0, accumulate: 0 },
      ];
      for (const [i, cs] of fixed.entries()) await checkCase(be, v, cs, 1000 + i);
      await fc.assert(
        fc.asyncProperty(caseArb(300, 2), seedArb, (cs, seed) => checkCase(be, v, cs, seed)),
        { numRuns: 6 },
      );
    },
  });
}

testBackends("matmul with k = 0 writes zeros (or leaves C when accumulating)", async (be) => {
  const a = be.alloc(1), b = be.alloc(1), c = be.alloc(6);
  be.upload(c, new Float32Array(6).fill(POISON));
  be.dispatch("matmul", [a, b, c], [2, 1, 3, 0, 0, 0, 0]);
  assertClose(await be.read(c), [0, 0, 0, 0, 0, 0], 0, "k=0");
  be.upload(c, Float32Array.from([1, 2, 3, 4, 5, 6]));
  be.dispatch("matmul_nt", [a, b, c], [2, 3, 1, 0, 0, 0, 1]);
  assertClose(await be.read(c), [1, 2, 3, 4, 5, 6], 0, "k=0 accumulate");
  [a, b, c].forEach((x) => be.free(x));
});

testBackends("bias_add matches float64", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 1, max: 300 }),
      seedArb,
      async (rows, cols, seed) => {
        const x = randomData(rows * cols, seed), bias = randomData(cols, seed + 1);
        const [dx, db, dout] = [upload(be, x), upload(be, bias), be.alloc(rows * cols)];
        be.upload(dout, new Float32Array(rows * cols).fill(POISON));
        be.dispatch("bias_add", [dx, db, dout], [rows, cols]);
        const want = Array.from(x, (v, i) => v + bias[i % cols]);
        assertClose(await be.read(dout), want, 1e-6, `bias_add ${rows}x${cols}`);
        [dx, db, dout].forEach((d) => be.free(d));
      },
    ),
    { numRuns: 20 },
  );
});

testBackends("sum_rows matches float64, with and without accumulate", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 1, max: 1100 }),
      fc.constantFrom(0, 1),
      seedArb,
      async (rows, cols, accumulate, seed) => {
        const x = randomData(rows * cols, seed);
        const out0 = accumulate ? randomData(cols, seed + 1) : new Float32Array(cols).fill(POISON);
        const [dx, dout] = [upload(be, x), upload(be, out0)];
        be.dispatch("sum_rows", [dx, dout], [rows, cols, accumulate]);
        const want = new Float64Array(cols), terms = new Float64Array(cols);
        for (let c = 0; c < cols; c++) {
          let s = accumulate ? out0[c] : 0, t = Math.abs(s);
          for (let r = 0; r < rows; r++) {
            s += x[r * cols + c];
            t += Math.abs(x[r * cols + c]);
          }
          want[c] = s;
          terms[c] = t;
        }
        const what = `sum_rows ${rows}x${cols} acc=${accumulate}`;
        assertClose(await be.read(dout), want, 1e-4, what, terms);
        [dx, dout].forEach((d) => be.free(d));
      },
    ),
    { numRuns: 20 },
  );
});

/** Central differences, in float64, of f at every element of x (h = 1e-6). */
function numericGrad(x: Float64Array, f: () => number, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i];
    x[i] = old + h;
    const up = f();
    x[i] = old - h;
    const down = f();
    x[i] = old;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/**
 * The sizes of the terms each gradient of the linear layer sums, for `rows` stacked rows: dX[r, c]
 * sums |G[r, j] W[c, j]| over j, dW[c, j] sums |X[r, c] G[r, j]| over r, dbias[j] sums |G[r, j]|.
 * Terms that cancel leave a small gradient that f32 gets right only relative to them.
 */
function linearGradTerms(
  x: Float64Array,
  w: Float64Array,
  g: Float64Array,
  rows: number,
  n: number,
  k: number,
): { dx: Float64Array; dw: Float64Array; dbias: Float64Array } {
  const dx = new Float64Array(rows * k), dw = new Float64Array(k * n);
  const dbias = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      const gj = Math.abs(g[r * n + j]);
      dbias[j] += gj;
      for (let c = 0; c < k; c++) {
        dx[r * k + c] += gj * Math.abs(w[c * n + j]);
        dw[c * n + j] += gj * Math.abs(x[r * k + c]);
      }
    }
  }
  return { dx, dw, dbias };
}

/** Loss of a linear layer Y_i = X_i W + bias (W shared by every batch i): sum(G * Y). */
function linearLoss(
  x: Float64Array,
  w: Float64Array,
  bias: Float64Array,
  g: Float64Array,
  batch: number,
  m: number,
  n: number,
  k: number,
): number {
  const y = matmulRef("matmul", x, w, {
    batch,
    m,
    n,
    k,
    strideA: m * k,
    strideB: 0,
    accumulate: 0,
  });
  let s = 0;
  for (let i = 0; i < y.length; i++) s += g[i] * (y[i] + bias[i % n]);
  return s;
}

testBackends(
  "backward kernels match finite differences of the float64 linear layer",
  async (be) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        seedArb,
        async (batch, m, n, k, seed) => {
          const x32 = randomData(batch * m * k, seed), w32 = randomData(k * n, seed + 1);
          const b32 = randomData(n, seed + 2), g32 = randomData(batch * m * n, seed + 3);
          const [x, w, bias, g] = [x32, w32, b32, g32].map((a) => Float64Array.from(a));
          const loss = () => linearLoss(x, w, bias, g, batch, m, n, k);
          const [dx, dw, dg] = [upload(be, x32), upload(be, w32), upload(be, g32)];
          // dX_i = G_i W^T: matmul_nt with W (k x n) stored as "n x k" for output width k.
          const gx = be.alloc(batch * m * k);
          be.upload(gx, new Float32Array(batch * m * k).fill(POISON));
          be.dispatch("matmul_nt", [dg, dw, gx], [batch, m, k, n, m * n, 0, 0]);
          // dW = sum_i X_i^T G_i = (stacked X)^T (stacked G): one matmul_tn with depth batch*m.
          const gw = be.alloc(k * n);
          be.upload(gw, new Float32Array(k * n).fill(POISON));
          be.dispatch("matmul_tn", [dx, dg, gw], [1, k, n, batch * m, 0, 0, 0]);
          // dbias = sum of G over rows.
          const gb = be.alloc(n);
          be.upload(gb, new Float32Array(n).fill(POISON));
          be.dispatch("sum_rows", [dg, gb], [batch * m, n, 0]);
          const terms = linearGradTerms(x, w, g, batch * m, n, k);
          assertClose(await be.read(gx), numericGrad(x, loss), 1e-4, "dX", terms.dx);
          assertClose(await be.read(gw), numericGrad(w, loss), 1e-4, "dW", terms.dw);
          assertClose(await be.read(gb), numericGrad(bias, loss), 1e-4, "dbias", terms.dbias);
          [dx, dw, dg, gx, gw, gb].forEach((d) => be.free(d));
        },
      ),
      { numRuns: 15 },
    );
  },
);

testBackends("matmul kernels reject bad buffers with BackendError", async (be) => {
  const [m, n, k] = [3, 4, 5];
  const a = be.alloc(2 * m * k), b = be.alloc(k * n), c = be.alloc(2 * m * n);
  const params = [2, m, n, k, m * k, 0, 0];
  for (const v of VARIANTS) {
    be.dispatch(v, [a, b, c], params);
    // a too small for the second batch's A, b too small for the second batch's B, c too small.
    const smallA = be.alloc(2 * m * k - 1), smallB = be.alloc(2 * k * n - 1);
    const smallC = be.alloc(2 * m * n - 1);
    assertThrows(() => be.dispatch(v, [smallA, b, c], params), BackendError);
    assertThrows(() => be.dispatch(v, [a, smallB, c], [2, m, n, k, m * k, k * n, 0]), BackendError);
    assertThrows(() => be.dispatch(v, [a, b, smallC], params), BackendError);
    [smallA, smallB, smallC].forEach((d) => be.free(d));
    // Freed buffers.
    const freed = be.alloc(2 * m * k);
    be.free(freed);
    assertThrows(() => be.dispatch(v, [freed, b, c], params), BackendError);
    // Wrong param count.
    assertThrows(() => be.dispatch(v, [a, b, c], params.slice(1)), BackendError);
  }
  const x = be.alloc(6), short = be.alloc(2);
  assertThrows(() => be.dispatch("bias_add", [x, short, x], [2, 3]), BackendError);
  assertThrows(() => be.dispatch("bias_add", [short, x, x], [2, 3]), BackendError);
  assertThrows(() => be.dispatch("sum_rows", [x, short], [2, 3, 0]), BackendError);
  // A buffer of the other backend.
  if (hasWebGpu) {
    const other = await getBackend(be.name === "wasm" ? "webgpu" : "wasm");
    const foreign = other.alloc(2 * m * k);
    for (const v of VARIANTS) {
      assertThrows(() => be.dispatch(v, [foreign, b, c], params), BackendError);
      assertThrows(() => be.dispatch(v, [a, b, foreign], params), BackendError);
    }
    assertThrows(() => be.dispatch("sum_rows", [x, foreign], [2, 3, 0]), BackendError);
    other.free(foreign);
  }
  [a, b, c, x, short].forEach((d) => be.free(d));
});

for (const v of ["matmul", "matmul_nt"] as const) {
  testBackends(`${v} matches float64 on few-row shapes (the skinny path)`, async (be) => {
    for (const [i, cs] of SKINNY_CASES.entries()) await checkCase(be, v, cs, 2000 + i);
  });
}

// More than 65535 batches: the grid is clamped and each workgroup loops over several batches.
// About 10 s on lavapipe; it runs wherever a WebGPU adapter exists.
Deno.test({
  name: "matmul folds a batch beyond 65535 workgroups [webgpu]",
  ignore: !hasWebGpu,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const be = await getBackend("webgpu");
    const cs: Case = { batch: 65535 + 70, m: 1, n: 3, k: 2, strideA: 2, strideB: 0, accumulate: 0 };
    await checkCase(be, "matmul", cs, 7);
  },
});
