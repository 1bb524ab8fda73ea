// Property tests of the pointwise kernels (mul, scale, axpy, gelu in both forms, silu, softcap
// (tanh) and their gradients, adam, sum, count_nonfinite) on both backends against float64
// references; gradients also against central finite differences of the float64 forward.

import fc from "fast-check";
import { assertClose, FC_RUNS, randomData, seedArb } from "../helpers/reference.ts";
import { testBackends } from "../helpers/backends.ts";
import { runKernel } from "../helpers/kernels.ts";
import { softcap as softcapOp } from "../../src/tensor/ops.ts";
import { Tensor } from "../../src/tensor/tensor.ts";

/** Sizes: the awkward ones (1, odd widths, one past a vector or workgroup) and random ones. */
const sizeArb = (max: number) =>
  fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 17, 255, 257, 769), fc.integer({ min: 1, max }));

/** Random data in [-s, s). */
function scaled(n: number, seed: number, s: number): Float32Array {
  return randomData(n, seed).map((v) => v * s);
}

// ---- float64 references ---------------------------------------------------------------------

const GELU_C = Math.sqrt(2 / Math.PI);
const geluRef = (x: number) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x ** 3)));
const geluGradRef = (x: number) => {
  const t = Math.tanh(GELU_C * (x + 0.044715 * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
};
/**
 * erfc in float64, independent of the kernels' Chebyshev fit: the Taylor series of erf below 2,
 * the continued fraction erfc(x) = e^(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + ...))) above
 * (80 terms: converged to the last digits from 1.5 up). The series' terms cancel from about e^(x^2)
 * down to erfc(x), so it keeps only about 1e-13 of it near 3: finite differences (step 1e-6)
 * amplified that into a gradient 2e-4 off at x = -4.22, a failure CI drew at random.
 */
function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    let term = x, sum = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-18; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = x;
  for (let k = 80; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}
const normalCdf = (x: number) => erfc(-x / Math.SQRT2) / 2;
const geluErfRef = (x: number) => x * normalCdf(x);
const geluErfGradRef = (x: number) =>
  normalCdf(x) + (x * Math.exp(-x * x / 2)) / Math.sqrt(2 * Math.PI);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const siluRef = (x: number) => x * sigmoid(x);
const siluGradRef = (x: number) => {
  const s = sigmoid(x);
  return s * (1 + x * (1 - s));
};

/**
 * Central finite differences (float64, step h) of loss(x) = sum(forward(x) * dy) with respect
 * to every element of x.
 */
function finiteDiff(
  forward: (x: number[]) => number[],
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  h = 1e-6,
): number[] {
  const xs = Array.from(x);
  const loss = (v: number[]) => forward(v).reduce((s, y, i) => s + y * dy[i], 0);
  return xs.map((_, i) => {
    const up = xs.slice(), dn = xs.slice();
    up[i] += h;
    dn[i] -= h;
    return (loss(up) - loss(dn)) / (2 * h);
  });
}

// ---- arithmetic -----------------------------------------------------------------------------

testBackends("mul matches float64", async (be) => {
  await fc.assert(
    fc.asyncProperty(sizeArb(70000), seedArb, async (n, seed) => {
      const a = scaled(n, seed, 3), b = scaled(n, seed + 1, 3);
      const [out] = await runKernel(be, "mul", [a, b], [n], [n]);
      assertClose(out, Array.from(a, (v, i) => v * b[i]), 1e-6, `mul n=${n}`);
    }),
    FC_RUNS,
  );
});

testBackends("scale matches float64", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      sizeArb(70000),
      seedArb,
      fc.float({ noNaN: true, min: -1e3, max: 1e3 }),
      async (n, seed, s) => {
        const a = randomData(n, seed);
        const [out] = await runKernel(be, "scale", [a], [n], [n, s]);
        const sf = Math.fround(s);
        assertClose(out, Array.from(a, (v) => sf * v), 1e-6, `scale n=${n} s=${s}`);
      },
    ),
    FC_RUNS,
  );
});

testBackends("axpy updates y in place", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      sizeArb(70000),
      seedArb,
      fc.float({ noNaN: true, min: -10, max: 10 }),
      async (n, seed, alpha) => {
        const x = randomData(n, seed), y = randomData(n, seed + 7);
        const [out] = await runKernel(be, "axpy", [x], [y], [n, alpha]);
        const af = Math.fround(alpha);
        const terms = Array.from(y, (v, i) => Math.abs(v) + Math.abs(af * x[i]));
        assertClose(out, Array.from(y, (v, i) => v + af * x[i]), 1e-5, `axpy n=${n}`, terms);
      },
    ),
    FC_RUNS,
  );
});

// ---- activations ----------------------------------------------------------------------------

for (
  const [name, ref, grad] of [
    ["gelu", geluRef, geluGradRef],
    ["gelu_erf", geluErfRef, geluErfGradRef],
    ["silu", siluRef, siluGradRef],
  ] as const
) {
  testBackends(`${name} matches float64`, async (be) => {
    await fc.assert(
      fc.asyncProperty(sizeArb(70000), seedArb, fc.constantFrom(1, 4, 12), async (n, seed, s) => {
        const x = scaled(n, seed, s);
        // Extreme inputs must saturate cleanly, never give NaN.
        if (n > 8) x.set([-100, 100, -20, 20, 0, -0, 1e-30, -3e38]);
        const [out] = await runKernel(be, name, [x], [n], [n]);
        assertClose(out, Array.from(x, ref), 1e-4, `${name} n=${n} scale=${s}`);
      }),
      FC_RUNS,
    );
  });

  testBackends(`${name}_backward matches float64`, async (be) => {
    await fc.assert(
      fc.asyncProperty(sizeArb(70000), seedArb, fc.constantFrom(1, 4, 12), async (n, seed, s) => {
        const x = scaled(n, seed, s), dy = scaled(n, seed + 1, 2);
        if (n > 8) x.set([-100, 100, -20, 20, 0, -0, 1e-30, -3e38]);
        const [dx] = await runKernel(be, `${name}_backward`, [x, dy], [n], [n]);
        assertClose(dx, Array.from(x, (v, i) => grad(v) * dy[i]), 1e-4, `${name}_backward n=${n}`);
      }),
      FC_RUNS,
    );
  });

  testBackends(`${name}_backward matches finite differences`, async (be) => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), seedArb, async (n, seed) => {
        const x = scaled(n, seed, 5), dy = scaled(n, seed + 1, 2);
        const [dx] = await runKernel(be, `${name}_backward`, [x, dy], [n], [n]);
        const fd = finiteDiff((v) => v.map(ref), x, dy);
        assertClose(dx, fd, 1e-4, `${name}_backward vs finite differences n=${n}`);
      }),
      FC_RUNS,
    );
  });
}

// ---- soft-capping (tanh) --------------------------------------------------------------------

/** cap tanh((s x) / cap) and its derivative in x, in float64. */
const softcapRef = (x: number, s: number, cap: number) => cap * Math.tanh((s * x) / cap);
const softcapGradRef = (x: number, s: number, cap: number) => {
  const t = Math.tanh((s * x) / cap);
  return s * (1 - t * t);
};

/** The settings drawn: tanh itself, Gemma 2's caps with an attention scale, and odd ones. */
const capArb = fc.record({
  s: fc.constantFrom(1, 1, 0.0625, 0.25, -1.5),
  cap: fc.constantFrom(1, 50, 30, 0.5, 3),
  spread: fc.constantFrom(1, 4, 60, 400),
});

/** Saturated, signed-zero and tiny inputs that must neither give NaN nor lose their sign. */
const CAP_SPECIALS = [-1e4, 1e4, -3e38, 3e38, 0, -0, 1e-30, -1e-20, 0.6249, 0.6251, -0.625];

testBackends("softcap matches float64", async (be) => {
  await fc.assert(
    fc.asyncProperty(sizeArb(70000), seedArb, capArb, async (n, seed, c) => {
      const x = scaled(n, seed, c.spread);
      if (n > CAP_SPECIALS.length) x.set(CAP_SPECIALS);
      const [out] = await runKernel(be, "softcap", [x], [n], [n, c.s, c.cap]);
      const want = Array.from(x, (v) => softcapRef(v, c.s, c.cap));
      assertClose(out, want, 1e-5, `softcap n=${n} ${JSON.stringify(c)}`);
    }),
    FC_RUNS,
  );
});

testBackends("softcap_backward matches float64", async (be) => {
  await fc.assert(
    fc.asyncProperty(sizeArb(70000), seedArb, capArb, async (n, seed, c) => {
      const x = scaled(n, seed, c.spread), dy = scaled(n, seed + 1, 2);
      if (n > CAP_SPECIALS.length) x.set(CAP_SPECIALS);
      const [dx] = await runKernel(be, "softcap_backward", [x, dy], [n], [n, c.s, c.cap]);
      const want = Array.from(x, (v, i) => softcapGradRef(v, c.s, c.cap) * dy[i]);
      assertClose(dx, want, 1e-5, `softcap_backward n=${n} ${JSON.stringify(c)}`);
    }),
    FC_RUNS,
  );
});

testBackends("softcap_backward matches finite differences", async (be) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 40 }), seedArb, capArb, async (n, seed, c) => {
      // Arguments (s x) / cap within +-3: saturated ones have slopes below the differences' noise.
      const x = scaled(n, seed, (3 * c.cap) / Math.abs(c.s)), dy = scaled(n, seed + 1, 2);
      const [dx] = await runKernel(be, "softcap_backward", [x, dy], [n], [n, c.s, c.cap]);
      const fd = finiteDiff((v) => v.map((u) => softcapRef(u, c.s, c.cap)), x, dy);
      assertClose(dx, fd, 1e-4, `softcap_backward vs finite differences n=${n}`);
    }),
    FC_RUNS,
  );
});

testBackends(
  "tanh keeps its relative precision near 0 and its slope's in the tails",
  async (be) => {
    // Magnitudes from 1e-30 to 40, both signs: each value and slope to a few ulp of itself, where
    // an absolute error bound (all the max-scaled comparisons above check) would hide a lost digit.
    const x = Float32Array.from(
      { length: 400 },
      (_, i) => (i % 2 ? -1 : 1) * 10 ** (-30 + (31.6 * i) / 399),
    );
    const dy = new Float32Array(x.length).fill(1);
    const [t] = await runKernel(be, "softcap", [x], [x.length], [x.length, 1, 1]);
    const [slope] = await runKernel(be, "softcap_backward", [x, dy], [x.length], [x.length, 1, 1]);
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]);
      const wantT = Math.tanh(x[i]);
      // 1 - tanh^2 = 4 / (e^a + e^-a)^2, exact in float64 for every a here.
      const wantS = 4 / (Math.exp(a) + Math.exp(-a)) ** 2;
      const errT = Math.abs(t[i] - wantT) / Math.abs(wantT);
      const errS = Math.abs(slope[i] - wantS) / wantS;
      if (!(errT <= 2e-6) || !(errS <= 2e-5)) {
        throw new Error(
          `x = ${x[i]}: tanh ${t[i]} (want ${wantT}, rel ${errT}), slope ${slope[i]} ` +
            `(want ${wantS}, rel ${errS})`,
        );
      }
    }
  },
);

testBackends("softcap refuses a cap that is not positive", (be) => {
  const x = Tensor.fromArray(be, new Float32Array(4), [4]);
  try {
    for (const cap of [0, -1, NaN, Infinity]) {
      let threw = false;
      try {
        softcapOp(x, 1, cap).free();
      } catch {
        threw = true;
      }
      if (!threw) throw new Error(`cap ${cap} accepted`);
    }
  } finally {
    x.free();
  }
});

// ---- AdamW ----------------------------------------------------------------------------------

testBackends(
  "adam matches float64 AdamW over several steps; zero entries stay bit-identical",
  async (be) => {
    await fc.assert(
      fc.asyncProperty(
        sizeArb(5000),
        seedArb,
        fc.record({
          lr: fc.constantFrom(1e-4, 1e-3, 1e-2, 0.1),
          beta1: fc.constantFrom(0.9, 0.8, 0),
          beta2: fc.constantFrom(0.999, 0.99, 0.95),
          eps: fc.constantFrom(1e-8, 1e-6, 0),
          weightDecay: fc.constantFrom(0, 0, 0.01, 0.1),
        }),
        fc.integer({ min: 1, max: 4 }),
        async (n, seed, hp, steps) => {
          const f = Math.fround;
          const [lr, b1, b2, eps, wd] = [hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay].map(f);
          // Every third entry (from a random phase) is frozen: zero gradient, m and v. Its p takes
          // awkward values: signed zeros, a subnormal, huge and tiny magnitudes.
          const phase = seed % 3;
          const frozen = (i: number) => i % 3 === phase;
          const specials = [0, -0, 1e-45, -3e38, 1e-20, 7.25, -1];
          const p0 = scaled(n, seed, 2).map((v, i) =>
            frozen(i) ? specials[i % specials.length] : v
          );
          const m0 = new Float32Array(n), v0 = new Float32Array(n);
          const pRef = Array.from(p0), mRef = new Array(n).fill(0), vRef = new Array(n).fill(0);
          const dp = be.alloc(n), dm = be.alloc(n), dv = be.alloc(n), dg = be.alloc(n);
          be.upload(dp, p0);
          be.upload(dm, m0);
          be.upload(dv, v0);
          for (let t = 1; t <= steps; t++) {
            const g = scaled(n, seed + 31 * t, 1).map((v, i) => frozen(i) ? 0 : v);
            be.upload(dg, g);
            const bc1 = f(1 - b1 ** t), bc2 = f(1 - b2 ** t);
            be.dispatch("adam", [dg, dp, dm, dv], [n, lr, b1, b2, eps, wd, bc1, bc2]);
            for (let i = 0; i < n; i++) {
              mRef[i] = b1 * mRef[i] + (1 - b1) * g[i];
              vRef[i] = b2 * vRef[i] + (1 - b2) * g[i] * g[i];
              const step = mRef[i] === 0
                ? 0
                : lr * (mRef[i] / bc1) / (Math.sqrt(vRef[i] / bc2) + eps);
              pRef[i] = pRef[i] - step - lr * wd * pRef[i];
            }
          }
          const [p, m, v] = [await be.read(dp), await be.read(dm), await be.read(dv)];
          [dp, dm, dv, dg].forEach((d) => be.free(d));
          const live = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => !frozen(i));
          const what = `adam n=${n} steps=${steps} ${JSON.stringify(hp)}`;
          assertClose(live(m), live(mRef), 1e-4, `${what} m`);
          assertClose(live(v), live(vRef), 1e-4, `${what} v`);
          assertClose(live(p), live(pRef), 1e-4, `${what} p`);
          for (let i = 0; i < n; i++) {
            if (!frozen(i)) continue;
            if (!Object.is(m[i], 0) || !Object.is(v[i], 0)) {
              throw new Error(`${what}: frozen entry ${i} has m=${m[i]}, v=${v[i]}`);
            }
            if (wd === 0 && !Object.is(p[i], p0[i])) {
              throw new Error(`${what}: frozen entry ${i} changed p from ${p0[i]} to ${p[i]}`);
            }
            if (wd !== 0) {
              assertClose(
                [p[i]],
                [pRef[i]],
                1e-4,
                `${what}: decayed frozen entry ${i}`,
              );
            }
          }
        },
      ),
      FC_RUNS,
    );
  },
);

// ---- reductions -----------------------------------------------------------------------------

testBackends("sum matches float64", async (be) => {
  await fc.assert(
    fc.asyncProperty(sizeArb(100000), seedArb, async (n, seed) => {
      // Positive bias, so the exact sum is far from 0 and the relative error is meaningful.
      const x = randomData(n, seed).map((v) => v + 0.25);
      const [out] = await runKernel(be, "sum", [x], [1], [n]);
      const exact = x.reduce((s, v) => s + v, 0);
      assertClose(out, [exact], 1e-4, `sum n=${n}`);
    }),
    FC_RUNS,
  );
});

testBackends("sum of zero-mean data is accurate relative to sum |x|", async (be) => {
  await fc.assert(
    fc.asyncProperty(sizeArb(100000), seedArb, async (n, seed) => {
      const x = randomData(n, seed);
      const [out] = await runKernel(be, "sum", [x], [1], [n]);
      const exact = x.reduce((s, v) => s + v, 0);
      const mass = x.reduce((s, v) => s + Math.abs(v), 0);
      // Normwise bound of a blocked f32 sum: a few ulp times sum |x|, whatever the cancellation.
      if (!(Math.abs(out[0] - exact) <= 1e-5 * mass)) {
        throw new Error(`sum n=${n}: ${out[0]} vs ${exact} (sum |x| = ${mass})`);
      }
    }),
    FC_RUNS,
  );
});

testBackends("count_nonfinite counts NaN and +-Inf only", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      sizeArb(100000),
      seedArb,
      fc.array(fc.nat(), { maxLength: 40 }),
      async (n, seed, picks) => {
        const x = randomData(n, seed);
        // Finite extremes that must not count.
        const finite = [3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -0, 0];
        finite.forEach((v, i) => x[(seed + i * 7919) % n] = v);
        const bad = [NaN, Infinity, -Infinity];
        picks.forEach((k, i) => x[k % n] = bad[i % 3]);
        const expected = x.reduce((c, v) => Number.isFinite(v) ? c : c + 1, 0);
        const [out] = await runKernel(be, "count_nonfinite", [x], [1], [n]);
        if (out[0] !== expected) {
          throw new Error(`count_nonfinite n=${n}: ${out[0]}, expected ${expected}`);
        }
      },
    ),
    FC_RUNS,
  );
});
