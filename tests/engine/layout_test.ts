// Property tests of the layout kernels (embedding, rotary, transposes, head repetition, column
// copies) on both backends against float64 references, with central finite differences of the
// references for the backward kernels.

import fc from "fast-check";
import type { Backend, DeviceBuffer } from "../../engine/backend.ts";
import {
  assertClose,
  dot,
  FC_RUNS,
  numericGrad,
  POISON,
  randomData,
  seedArb,
} from "../helpers/reference.ts";
import { testBackends } from "../helpers/backends.ts";

// ---- helpers -------------------------------------------------------------------------------

function put(be: Backend, data: Float32Array): DeviceBuffer {
  const b = be.alloc(data.length);
  be.upload(b, data);
  return b;
}

function poisoned(be: Backend, n: number): DeviceBuffer {
  return put(be, new Float32Array(n).fill(POISON));
}

function assertExact(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length}`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      throw new Error(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

const isGpu = (be: Backend) => be.name === "webgpu";

// ---- float64 references --------------------------------------------------------------------

function embeddingRef(
  table: ArrayLike<number>,
  ids: ArrayLike<number>,
  n: number,
  d: number,
  V: number,
) {
  const out = new Float64Array(n * d);
  for (let t = 0; t < n; t++) {
    const id = ids[t];
    if (!(id >= 0 && id < V)) continue;
    for (let c = 0; c < d; c++) out[t * d + c] = table[Math.floor(id) * d + c];
  }
  return out;
}

/** Hugging Face's f32 angle (position times inverse frequency), then float64 cos/sin. */
function ropeAngles(T: number, posOffset: number, invFreq: Float32Array) {
  const half = invFreq.length;
  const cos = new Float64Array(T * half), sin = new Float64Array(T * half);
  for (let t = 0; t < T; t++) {
    const pos = Math.fround(posOffset + t);
    for (let i = 0; i < half; i++) {
      const a = Math.fround(pos * invFreq[i]);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

function ropeRef(
  x: ArrayLike<number>,
  batch: number,
  T: number,
  H: number,
  Dh: number,
  posOffset: number,
  invFreq: Float32Array,
  sign: number,
  interleaved = false,
  angles = ropeAngles(T, posOffset, invFreq),
) {
  // Each head's first Dr = 2 * invFreq.length values rotate; the others are copied. Pair i is
  // (i, i + Dr/2) as Llama's rotate_half pairs them, or (2i, 2i + 1) as GPT-J's rotate_every_two.
  const half = invFreq.length;
  const out = Float64Array.from(x);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const base = ((b * T + t) * H + h) * Dh;
        for (let i = 0; i < half; i++) {
          const c = angles.cos[t * half + i], s = sign * angles.sin[t * half + i];
          const lo = base + (interleaved ? 2 * i : i), hi = lo + (interleaved ? 1 : half);
          const x1 = x[lo], x2 = x[hi];
          out[lo] = x1 * c - x2 * s;
          out[hi] = x2 * c + x1 * s;
        }
      }
    }
  }
  return out;
}

function transposeRef(x: ArrayLike<number>, A: number, B: number, C: number, D: number) {
  const out = new Float64Array(A * B * C * D);
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        for (let d = 0; d < D; d++) {
          out[((a * C + c) * B + b) * D + d] = x[((a * B + b) * C + c) * D + d];
        }
      }
    }
  }
  return out;
}

function repeatKvRef(
  x: ArrayLike<number>,
  A: number,
  Hkv: number,
  g: number,
  T: number,
  D: number,
) {
  const td = T * D;
  const out = new Float64Array(A * Hkv * g * td);
  for (let a = 0; a < A; a++) {
    for (let h = 0; h < Hkv * g; h++) {
      for (let e = 0; e < td; e++) {
        out[(a * Hkv * g + h) * td + e] = x[(a * Hkv + Math.floor(h / g)) * td + e];
      }
    }
  }
  return out;
}

// ---- embedding -----------------------------------------------------------------------------

/** Random ids in [0, V) with some out-of-range ones (-1, V, V + 7, NaN) when `bad`. */
function randomIds(n: number, V: number, seed: number, bad: boolean): Float32Array {
  return randomData(n, seed).map((u, t) => {
    const a = (u + 1) / 2;
    if (bad && a < 0.15) return [-1, V, V + 7, NaN][t % 4];
    return Math.min(V - 1, Math.floor(a * V));
  });
}

testBackends("embedding gathers rows and zeroes out-of-range ids", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 200 }),
      fc.integer({ min: 1, max: 130 }),
      fc.integer({ min: 1, max: 60 }),
      fc.boolean(),
      seedArb,
      async (n, d, V, bad, seed) => {
        const table = randomData(V * d, seed), ids = randomIds(n, V, seed + 1, bad);
        const [bt, bi, bo] = [put(be, table), put(be, ids), poisoned(be, n * d)];
        be.dispatch("embedding", [bt, bi, bo], [n, d, V]);
        assertExact(
          await be.read(bo),
          embeddingRef(table, ids, n, d, V),
          `embedding n=${n} d=${d} V=${V}`,
        );
        [bt, bi, bo].forEach((b) => be.free(b));
      },
    ),
    FC_RUNS,
  );
});

testBackends(
  "embedding_backward accumulates repeated ids (and matches finite differences)",
  async (be) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 12 }),
        fc.boolean(),
        seedArb,
        async (n, d, V, bad, seed) => {
          const ids = randomIds(n, V, seed, bad), dout = randomData(n * d, seed + 1);
          const prefill = randomData(V * d, seed + 2);
          const [bi, bd, bt] = [put(be, ids), put(be, dout), put(be, prefill)];
          be.dispatch("embedding_backward", [bi, bd, bt], [n, d, V]);
          const got = await be.read(bt);
          const want = Float64Array.from(prefill), terms = prefill.map(Math.abs);
          for (let t = 0; t < n; t++) {
            const id = ids[t];
            if (!(id >= 0 && id < V)) continue;
            for (let c = 0; c < d; c++) {
              want[id * d + c] += dout[t * d + c];
              terms[id * d + c] += Math.abs(dout[t * d + c]);
            }
          }
          assertClose(got, want, 1e-5, `embedding_backward n=${n} d=${d} V=${V}`, terms);
          if (V * d <= 200) {
            const fd = numericGrad((tab) => dot(embeddingRef(tab, ids, n, d, V), dout), prefill);
            assertClose(
              got,
              fd.map((g, i) => g + prefill[i]),
              1e-4,
              "embedding_backward vs finite differences",
            );
          }
          [bi, bd, bt].forEach((b) => be.free(b));
        },
      ),
      FC_RUNS,
    );
  },
);

// ---- rope ----------------------------------------------------------------------------------

const ropeArgs = (maxPos: number) =>
  fc.record({
    batch: fc.integer({ min: 1, max: 3 }),
    T: fc.integer({ min: 1, max: 17 }),
    H: fc.integer({ min: 1, max: 5 }),
    half: fc.integer({ min: 1, max: 40 }),
    posOffset: fc.integer({ min: 0, max: maxPos }),
    theta: fc.constantFrom(10000, 500000, 1000000, 123.5),
    // Scaled tables (linear, llama3) divide frequencies by a factor.
    factor: fc.constantFrom(1, 8, 32),
    // The rotated share of each head: all of it (Llama) or its first values (GPT-NeoX).
    rotary: fc.constantFrom(1, 1, 0.5, 0.25, 0.01),
    sign: fc.constantFrom(1, -1),
    // Pairs (i, i + Dr/2) (Llama, GPT-NeoX) or (2i, 2i + 1) (GPT-J).
    interleaved: fc.boolean(),
  });

/**
 * A table of f32 inverse frequencies like a model's, theta^(-2i/Dr) / factor, for the first
 * Dr = max(2, share of Dh) values of each head.
 */
function invFreqTable(Dh: number, theta: number, factor: number, share = 1): Float32Array {
  const Dr = Math.max(2, 2 * Math.floor((share * Dh) / 2));
  return Float32Array.from(
    { length: Dr / 2 },
    (_, i) => Math.pow(theta, -(2 * i) / Dr) / (i === 0 ? 1 : factor),
  );
}

testBackends("rope matches HF rotate_half and rotate_every_two in float64", async (be) => {
  await fc.assert(
    fc.asyncProperty(ropeArgs(65536), seedArb, async (a, seed) => {
      const Dh = 2 * a.half, n = a.batch * a.T * a.H * Dh;
      const x = randomData(n, seed), inv = invFreqTable(Dh, a.theta, a.factor, a.rotary);
      const [bx, bf, bo] = [put(be, x), put(be, inv), poisoned(be, n)];
      const Dr = 2 * inv.length, il = a.interleaved ? 1 : 0;
      be.dispatch("rope", [bx, bf, bo], [a.batch, a.T, a.H, Dh, Dr, a.posOffset, a.sign, il]);
      const got = await be.read(bo);
      const want = ropeRef(x, a.batch, a.T, a.H, Dh, a.posOffset, inv, a.sign, a.interleaved);
      assertClose(got, want, 1e-5, `rope ${JSON.stringify(a)}`);
      [bx, bf, bo].forEach((b) => be.free(b));
    }),
    FC_RUNS,
  );
});

testBackends(
  "rope with sign -1 is the backward pass (finite differences, round trip)",
  async (be) => {
    await fc.assert(
      fc.asyncProperty(ropeArgs(300), seedArb, async (a, seed) => {
        const Dh = 2 * Math.min(a.half, 6), T = Math.min(a.T, 4);
        const n = a.batch * T * a.H * Dh;
        const x = randomData(n, seed), dy = randomData(n, seed + 1);
        const inv = invFreqTable(Dh, a.theta, a.factor, a.rotary), Dr = 2 * inv.length;
        const il = a.interleaved ? 1 : 0;
        const [bx, bf, by, bdy, bdx, bback] = [
          put(be, x),
          put(be, inv),
          poisoned(be, n),
          put(be, dy),
          poisoned(be, n),
          poisoned(be, n),
        ];
        be.dispatch("rope", [bx, bf, by], [a.batch, T, a.H, Dh, Dr, a.posOffset, 1, il]);
        be.dispatch("rope", [by, bf, bback], [a.batch, T, a.H, Dh, Dr, a.posOffset, -1, il]);
        be.dispatch("rope", [bdy, bf, bdx], [a.batch, T, a.H, Dh, Dr, a.posOffset, -1, il]);
        const got = await be.read(bdx);
        const angles = ropeAngles(T, a.posOffset, inv);
        const fd = numericGrad(
          (xx) =>
            dot(ropeRef(xx, a.batch, T, a.H, Dh, a.posOffset, inv, 1, a.interleaved, angles), dy),
          x,
        );
        assertClose(got, fd, 1e-4, `rope backward ${JSON.stringify(a)}`);
        assertClose(await be.read(bback), x, 1e-5, "rope round trip");
        [bx, bf, by, bdy, bdx, bback].forEach((b) => be.free(b));
      }),
      { numRuns: 20 },
    );
  },
);

testBackends("rope covers more than 65535 (batch, t) rows", async (be) => {
  const batch = 2, T = 32771, H = 1, Dh = 4, n = batch * T * H * Dh;
  const x = randomData(n, 17), inv = invFreqTable(Dh, 10000, 1);
  const [bx, bf, bo] = [put(be, x), put(be, inv), poisoned(be, n)];
  be.dispatch("rope", [bx, bf, bo], [batch, T, H, Dh, Dh, 3, 1, 0]);
  assertClose(await be.read(bo), ropeRef(x, batch, T, H, Dh, 3, inv, 1), 1e-5, "rope 65542 rows");
  [bx, bf, bo].forEach((b) => be.free(b));
});

testBackends("rope rejects an odd rotary size, one past the head, and a third pairing", (be) => {
  const x = be.alloc(8), inv = be.alloc(2), out = be.alloc(8);
  for (const [Dh, Dr, il] of [[4, 3, 0], [4, 6, 0], [2, 0, 0], [4, 4, 2]]) {
    let threw = false;
    try {
      be.dispatch("rope", [x, inv, out], [1, 1, 2, Dh, Dr, 0, 1, il]);
    } catch {
      threw = true;
    }
    if (!threw) throw new Error(`Dh ${Dh}, Dr ${Dr}, interleaved ${il} accepted`);
  }
  [x, inv, out].forEach((b) => be.free(b));
});

// ---- transpose_0213 ------------------------------------------------------------------------

testBackends(
  "transpose_0213 permutes axes 1 and 2, and its adjoint is itself with B, C swapped",
  async (be) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: isGpu(be) ? 12 : 20 }), { minLength: 4, maxLength: 4 }),
        seedArb,
        async ([A, B, C, D], seed) => {
          const n = A * B * C * D;
          const x = randomData(n, seed);
          const [bx, bo, bback] = [put(be, x), poisoned(be, n), poisoned(be, n)];
          be.dispatch("transpose_0213", [bx, bo], [A, B, C, D]);
          be.dispatch("transpose_0213", [bo, bback], [A, C, B, D]);
          assertExact(await be.read(bo), transposeRef(x, A, B, C, D), `transpose ${[A, B, C, D]}`);
          assertExact(await be.read(bback), x, "transpose back");
          // Adjoint check: <T x, y> = <x, T' y> against finite differences on small shapes.
          if (n <= 200) {
            const dy = randomData(n, seed + 1);
            const bdy = put(be, dy), bdx = poisoned(be, n);
            be.dispatch("transpose_0213", [bdy, bdx], [A, C, B, D]);
            const fd = numericGrad((xx) => dot(transposeRef(xx, A, B, C, D), dy), x);
            assertClose(await be.read(bdx), fd, 1e-4, "transpose adjoint vs finite differences");
            [bdy, bdx].forEach((b) => be.free(b));
          }
          [bx, bo, bback].forEach((b) => be.free(b));
        },
      ),
      FC_RUNS,
    );
  },
);

// ---- repeat_kv -----------------------------------------------------------------------------

testBackends(
  "repeat_kv and repeat_kv_backward match float64 and finite differences",
  async (be) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 33 }),
        seedArb,
        async (A, Hkv, g, T, D, seed) => {
          const nx = A * Hkv * T * D, no = nx * g;
          const x = randomData(nx, seed), dout = randomData(no, seed + 1);
          const [bx, bo, bd, bdx] = [put(be, x), poisoned(be, no), put(be, dout), poisoned(be, nx)];
          be.dispatch("repeat_kv", [bx, bo], [A, Hkv, g, T, D]);
          be.dispatch("repeat_kv_backward", [bd, bdx], [A, Hkv, g, T, D]);
          assertExact(
            await be.read(bo),
            repeatKvRef(x, A, Hkv, g, T, D),
            `repeat_kv ${[A, Hkv, g, T, D]}`,
          );
          const got = await be.read(bdx);
          const want = new Float64Array(nx);
          const td = T * D;
          for (let a = 0; a < A; a++) {
            for (let h = 0; h < Hkv * g; h++) {
              for (let e = 0; e < td; e++) {
                want[(a * Hkv + Math.floor(h / g)) * td + e] += dout[(a * Hkv * g + h) * td + e];
              }
            }
          }
          assertClose(got, want, 1e-5, `repeat_kv_backward ${[A, Hkv, g, T, D]}`);
          if (nx <= 150) {
            const fd = numericGrad((xx) => dot(repeatKvRef(xx, A, Hkv, g, T, D), dout), x);
            assertClose(got, fd, 1e-4, "repeat_kv_backward vs finite differences");
          }
          [bx, bo, bd, bdx].forEach((b) => be.free(b));
        },
      ),
      FC_RUNS,
    );
  },
);

// ---- copy_cols -----------------------------------------------------------------------------

testBackends(
  "copy_cols copies a column window and leaves the rest of out untouched",
  async (be) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 1, max: 90 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        seedArb,
        async (rows, srcCols, dstCols, fw, fs, fd, seed) => {
          const width = Math.round(fw * Math.min(srcCols, dstCols));
          const srcOffset = Math.round(fs * (srcCols - width)),
            dstOffset = Math.round(fd * (dstCols - width));
          const x = randomData(rows * srcCols, seed), before = randomData(rows * dstCols, seed + 1);
          const [bx, bo] = [put(be, x), put(be, before)];
          be.dispatch("copy_cols", [bx, bo], [rows, srcCols, srcOffset, dstCols, dstOffset, width]);
          const want = Float32Array.from(before);
          for (let r = 0; r < rows; r++) {
            for (let j = 0; j < width; j++) {
              want[r * dstCols + dstOffset + j] = x[r * srcCols + srcOffset + j];
            }
          }
          assertExact(
            await be.read(bo),
            want,
            `copy_cols ${[rows, srcCols, srcOffset, dstCols, dstOffset, width]}`,
          );
          [bx, bo].forEach((b) => be.free(b));
        },
      ),
      FC_RUNS,
    );
  },
);

testBackends("copy_cols rejects windows outside the rows", (be) => {
  const x = be.alloc(40), out = be.alloc(40);
  for (const params of [[4, 10, 6, 10, 0, 5], [4, 10, 0, 10, 8, 3]]) {
    let threw = false;
    try {
      be.dispatch("copy_cols", [x, out], params);
    } catch {
      threw = true;
    }
    if (!threw) throw new Error(`copy_cols ${params} accepted`);
  }
  be.free(x);
  be.free(out);
});
