// Property tests of the normalisation kernels (layernorm, rmsnorm, their input gradients and
// gamma/beta gradients) on both backends against float64 references; every backward kernel also
// against central finite differences of the float64 forward (loss = sum(forward * dy)).

import fc from "fast-check";
import type { Backend } from "../../engine/backend.ts";
import { assertClose, FC_RUNS, randomData, seedArb } from "../helpers/reference.ts";
import { testBackends } from "../helpers/backends.ts";
import { runKernel } from "../helpers/kernels.ts";

const rowsArb = fc.oneof(fc.constantFrom(1, 2, 3), fc.integer({ min: 1, max: 40 }));
const widthArb = fc.oneof(
  fc.constantFrom(1, 3, 5, 17, 255, 257, 769),
  fc.integer({ min: 1, max: 300 }),
);
const epsArb = fc.constantFrom(1e-5, 1e-6, 1e-3);

/** Test data for a [rows, d] problem: x with a per-test offset, gamma, beta, dy. */
function problem(rows: number, d: number, seed: number, offset: number) {
  return {
    x: randomData(rows * d, seed).map((v) => 2 * v + offset),
    gamma: randomData(d, seed + 1).map((v) => 1 + 0.5 * v),
    beta: randomData(d, seed + 2),
    dy: randomData(rows * d, seed + 3),
  };
}

// ---- float64 references ---------------------------------------------------------------------

type Arr = ArrayLike<number>;

function layernormRef(x: Arr, gamma: Arr, beta: Arr, rows: number, d: number, eps: number) {
  const out = new Array<number>(rows * d), mean = new Array<number>(rows);
  const rstd = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[r * d + j];
    const mu = s / d;
    let q = 0;
    for (let j = 0; j < d; j++) q += (x[r * d + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(q / d + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < d; j++) out[r * d + j] = (x[r * d + j] - mu) * rs * gamma[j] + beta[j];
  }
  return { out, mean, rstd };
}

function rmsnormRef(x: Arr, gamma: Arr, rows: number, d: number, eps: number) {
  const out = new Array<number>(rows * d), rrms = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    let q = 0;
    for (let j = 0; j < d; j++) q += x[r * d + j] ** 2;
    const rr = 1 / Math.sqrt(q / d + eps);
    rrms[r] = rr;
    for (let j = 0; j < d; j++) out[r * d + j] = x[r * d + j] * rr * gamma[j];
  }
  return { out, rrms };
}

/** Analytic float64 layernorm gradients (dx, dgamma, dbeta) for loss = sum(out * dy). */
function layernormGradRef(x: Arr, gamma: Arr, dy: Arr, rows: number, d: number, eps: number) {
  const { mean, rstd } = layernormRef(x, gamma, new Array(d).fill(0), rows, d, eps);
  const dx = new Array<number>(rows * d).fill(0);
  const dgamma = new Array<number>(d).fill(0), dbeta = new Array<number>(d).fill(0);
  for (let r = 0; r < rows; r++) {
    let a = 0, b = 0;
    for (let j = 0; j < d; j++) {
      const xh = (x[r * d + j] - mean[r]) * rstd[r], gdy = gamma[j] * dy[r * d + j];
      a += gdy;
      b += gdy * xh;
      dgamma[j] += dy[r * d + j] * xh;
      dbeta[j] += dy[r * d + j];
    }
    for (let j = 0; j < d; j++) {
      const xh = (x[r * d + j] - mean[r]) * rstd[r], gdy = gamma[j] * dy[r * d + j];
      dx[r * d + j] = rstd[r] * (gdy - a / d - xh * b / d);
    }
  }
  return { dx, dgamma, dbeta, mean, rstd };
}

/** Analytic float64 rmsnorm gradients (dx, dgamma) for loss = sum(out * dy). */
function rmsnormGradRef(x: Arr, gamma: Arr, dy: Arr, rows: number, d: number, eps: number) {
  const { rrms } = rmsnormRef(x, gamma, rows, d, eps);
  const dx = new Array<number>(rows * d), dgamma = new Array<number>(d).fill(0);
  for (let r = 0; r < rows; r++) {
    const rr = rrms[r];
    let s = 0;
    for (let j = 0; j < d; j++) {
      s += gamma[j] * dy[r * d + j] * x[r * d + j];
      dgamma[j] += dy[r * d + j] * x[r * d + j] * rr;
    }
    for (let j = 0; j < d; j++) {
      dx[r * d + j] = rr * gamma[j] * dy[r * d + j] - x[r * d + j] * rr ** 3 * s / d;
    }
  }
  return { dx, dgamma, rrms };
}

/**
 * Central finite differences (float64, step h) of loss(v) = sum(forward(v) * dy) with respect to
 * every element of v.
 */
function finiteDiff(forward: (v: number[]) => number[], v0: Arr, dy: Arr, h = 1e-6): number[] {
  const vs = Array.from(v0);
  const loss = (v: number[]) => forward(v).reduce((s, y, i) => s + y * dy[i], 0);
  return vs.map((_, i) => {
    const up = vs.slice(), dn = vs.slice();
    up[i] += h;
    dn[i] -= h;
    return (loss(up) - loss(dn)) / (2 * h);
  });
}

/**
 * Largest |stat[r] * gamma[j] * dy[r, j]|: the size of the terms an input gradient sums. When they
 * cancel (d = 1 or 2, where the output hardly depends on x) dx is tiny and f32 gets it right only
 * relative to these terms, so dx is compared against this size too (assertClose's `terms`).
 */
function termScale(stat: Arr, gamma: Arr, dy: Arr, rows: number, d: number): number {
  let m = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) m = Math.max(m, Math.abs(stat[r] * gamma[j] * dy[r * d + j]));
  }
  return m;
}

/**
 * What a parameter gradient sums over the rows, in magnitude (the size its float32 rounding
 * scales with): gamma Σ|dy (x - center) scale|, beta Σ|dy|, plus |start| when accumulating.
 */
function paramTerms(
  x: Arr,
  dy: Arr,
  center: Arr | null,
  scale: Arr,
  rows: number,
  d: number,
  start: { gamma?: Arr; beta?: Arr },
): { gamma: number[]; beta: number[] } {
  const gamma = Array.from({ length: d }, (_, j) => Math.abs(start.gamma?.[j] ?? 0));
  const beta = Array.from({ length: d }, (_, j) => Math.abs(start.beta?.[j] ?? 0));
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) {
      const i = r * d + j;
      gamma[j] += Math.abs(dy[i] * (x[i] - (center?.[r] ?? 0)) * scale[r]);
      beta[j] += Math.abs(dy[i]);
    }
  }
  return { gamma, beta };
}

const f32 = (a: Arr) => Float32Array.from(a);
const plus = (a: Arr, b: Arr) => Array.from(a, (v, i) => v + b[i]);

// ---- LayerNorm ------------------------------------------------------------------------------

/** One layernorm case on `be` against float64 (out, mean, rstd). */
async function checkLayernorm(
  be: Backend,
  rows: number,
  d: number,
  seed: number,
  e: number,
  off: number,
): Promise<void> {
  const eps = Math.fround(e);
  const { x, gamma, beta } = problem(rows, d, seed, off);
  const [out, mean, rstd] = await runKernel(be, "layernorm", [x, gamma, beta], [
    rows * d,
    rows,
    rows,
  ], [rows, d, eps]);
  const ref = layernormRef(x, gamma, beta, rows, d, eps);
  const what = `layernorm rows=${rows} d=${d} eps=${e} offset=${off}`;
  // The mean of values of both signs can be far smaller than they are (6.6e-5 from 769 values in
  // [-1, 1)); its f32 rounding is relative to its terms, the row's mean |x|.
  const meanAbs = Array.from({ length: rows }, (_, r) => {
    let sum = 0;
    for (let j = 0; j < d; j++) sum += Math.abs(x[r * d + j]);
    return sum / d;
  });
  assertClose(mean, ref.mean, 1e-4, `${what} mean`, meanAbs);
  // The f32 mean of values near the offset is off by up to a few ulps of |x| (its rounding,
  // and the tree reduction's), an error x - mean carries into out and rstd however close
  // the values are: out[j] by delta * rstd * |gamma[j]|, rstd by delta * rstd^2. With two
  // values 0.006 apart at -20, rstd is 147 and half an ulp of 20 moves out by 1.3e-4.
  const ulp = (v: number) => v === 0 ? 0 : 2 ** (Math.floor(Math.log2(Math.abs(v))) - 23);
  for (let r = 0; r < rows; r++) {
    let big = 0;
    for (let j = 0; j < d; j++) big = Math.max(big, Math.abs(x[r * d + j]));
    const delta = (2 + Math.log2(Math.max(d, 2))) * ulp(big);
    const rs = ref.rstd[r];
    const near = (got: number, want: number, extra: number, name: string) => {
      if (!(Math.abs(got - want) <= 1e-4 * Math.max(Math.abs(want), 1) + extra)) {
        throw new Error(`${what} ${name}: ${got}, expected ${want} (allowed ${extra})`);
      }
    };
    near(rstd[r], rs, delta * rs * rs, `rstd[${r}]`);
    for (let j = 0; j < d; j++) {
      const i = r * d + j;
      near(out[i], ref.out[i], delta * rs * Math.abs(gamma[j]), `out[${i}]`);
    }
  }
}

testBackends("layernorm matches float64 (out, mean, rstd)", async (be) => {
  // Two values 0.006 apart at -20: the mean's f32 rounding alone moves out by 1.3e-4.
  await checkLayernorm(be, 1, 2, 47897811, 0.00001, -20);
  // A mean of 6.6e-5 from 769 values in [-1, 1): 1.4e-8 off in f32, measured against its terms.
  await checkLayernorm(be, 1, 769, 61559517, 0.00001, 0);
  await fc.assert(
    fc.asyncProperty(
      rowsArb,
      widthArb,
      seedArb,
      epsArb,
      fc.constantFrom(0, 3, -20),
      (rows, d, seed, e, off) => checkLayernorm(be, rows, d, seed, e, off),
    ),
    FC_RUNS,
  );
});

testBackends("layernorm_backward matches float64", async (be) => {
  await fc.assert(
    fc.asyncProperty(rowsArb, widthArb, seedArb, epsArb, async (rows, d, seed, e) => {
      const eps = Math.fround(e);
      const { x, gamma, dy } = problem(rows, d, seed, 1);
      const ref = layernormGradRef(x, gamma, dy, rows, d, eps);
      const [dx] = await runKernel(
        be,
        "layernorm_backward",
        [x, gamma, dy, f32(ref.mean), f32(ref.rstd)],
        [rows * d],
        [rows, d],
      );
      assertClose(
        dx,
        ref.dx,
        1e-4,
        `layernorm_backward rows=${rows} d=${d}`,
        termScale(ref.rstd, gamma, dy, rows, d),
      );
    }),
    FC_RUNS,
  );
});

testBackends("layernorm_param_grad matches float64, overwriting and accumulating", async (be) => {
  await fc.assert(
    fc.asyncProperty(rowsArb, widthArb, seedArb, fc.boolean(), async (rows, d, seed, acc) => {
      const eps = Math.fround(1e-5);
      const { x, gamma, dy } = problem(rows, d, seed, -1);
      const ref = layernormGradRef(x, gamma, dy, rows, d, eps);
      const g0 = randomData(d, seed + 9), b0 = randomData(d, seed + 10);
      const [dgamma, dbeta] = await runKernel(
        be,
        "layernorm_param_grad",
        [x, dy, f32(ref.mean), f32(ref.rstd)],
        acc ? [g0, b0] : [d, d],
        [rows, d, acc ? 1 : 0],
      );
      const what = `layernorm_param_grad rows=${rows} d=${d} accumulate=${acc}`;
      const terms = paramTerms(
        x,
        dy,
        ref.mean,
        ref.rstd,
        rows,
        d,
        acc ? { gamma: g0, beta: b0 } : {},
      );
      const wantG = acc ? plus(g0, ref.dgamma) : ref.dgamma;
      assertClose(dgamma, wantG, 1e-4, `${what} dgamma`, terms.gamma);
      assertClose(dbeta, acc ? plus(b0, ref.dbeta) : ref.dbeta, 1e-4, `${what} dbeta`, terms.beta);
    }),
    FC_RUNS,
  );
});

testBackends("layernorm gradients match finite differences", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }),
      fc.oneof(fc.constantFrom(1, 2, 3, 5, 17), fc.integer({ min: 1, max: 24 })),
      seedArb,
      async (rows, d, seed) => {
        const eps = Math.fround(1e-5);
        const { x, gamma, beta, dy } = problem(rows, d, seed, 0.5);
        // The kernels' saved statistics come from the layernorm kernel itself.
        const [, mean, rstd] = await runKernel(
          be,
          "layernorm",
          [x, gamma, beta],
          [rows * d, rows, rows],
          [rows, d, eps],
        );
        const [dx] = await runKernel(be, "layernorm_backward", [x, gamma, dy, mean, rstd], [
          rows * d,
        ], [
          rows,
          d,
        ]);
        const [dgamma, dbeta] = await runKernel(be, "layernorm_param_grad", [x, dy, mean, rstd], [
          d,
          d,
        ], [
          rows,
          d,
          0,
        ]);
        const fwd = (xv: Arr, gv: Arr, bv: Arr) => layernormRef(xv, gv, bv, rows, d, eps).out;
        const what = `layernorm rows=${rows} d=${d} vs finite differences`;
        const terms = termScale(rstd, gamma, dy, rows, d);
        assertClose(dx, finiteDiff((v) => fwd(v, gamma, beta), x, dy), 1e-4, `${what}: dx`, terms);
        // dgamma and dbeta sum one term per row, which can cancel: measured against their sizes.
        const pt = paramTerms(x, dy, mean, rstd, rows, d, {});
        const dg = finiteDiff((v) => fwd(x, v, beta), gamma, dy);
        assertClose(dgamma, dg, 1e-4, `${what}: dgamma`, pt.gamma);
        assertClose(
          dbeta,
          finiteDiff((v) => fwd(x, gamma, v), beta, dy),
          1e-4,
          `${what}: dbeta`,
          pt.beta,
        );
      },
    ),
    FC_RUNS,
  );
});

// ---- RMSNorm --------------------------------------------------------------------------------

testBackends("rmsnorm matches float64 (out, rrms)", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      rowsArb,
      widthArb,
      seedArb,
      epsArb,
      fc.constantFrom(0, 3),
      async (rows, d, seed, e, off) => {
        const eps = Math.fround(e);
        const { x, gamma } = problem(rows, d, seed, off);
        const [out, rrms] = await runKernel(be, "rmsnorm", [x, gamma], [rows * d, rows], [
          rows,
          d,
          eps,
        ]);
        const ref = rmsnormRef(x, gamma, rows, d, eps);
        const what = `rmsnorm rows=${rows} d=${d} eps=${e} offset=${off}`;
        assertClose(out, ref.out, 1e-4, `${what} out`);
        assertClose(rrms, ref.rrms, 1e-4, `${what} rrms`);
      },
    ),
    FC_RUNS,
  );
});

testBackends("rmsnorm_backward matches float64", async (be) => {
  await fc.assert(
    fc.asyncProperty(rowsArb, widthArb, seedArb, epsArb, async (rows, d, seed, e) => {
      const eps = Math.fround(e);
      const { x, gamma, dy } = problem(rows, d, seed, 0.5);
      const ref = rmsnormGradRef(x, gamma, dy, rows, d, eps);
      const [dx] = await runKernel(be, "rmsnorm_backward", [x, gamma, dy, f32(ref.rrms)], [
        rows * d,
      ], [
        rows,
        d,
      ]);
      assertClose(
        dx,
        ref.dx,
        1e-4,
        `rmsnorm_backward rows=${rows} d=${d}`,
        termScale(ref.rrms, gamma, dy, rows, d),
      );
    }),
    FC_RUNS,
  );
});

testBackends("rmsnorm_param_grad matches float64, overwriting and accumulating", async (be) => {
  await fc.assert(
    fc.asyncProperty(rowsArb, widthArb, seedArb, fc.boolean(), async (rows, d, seed, acc) => {
      const eps = Math.fround(1e-5);
      const { x, gamma, dy } = problem(rows, d, seed, 0);
      const ref = rmsnormGradRef(x, gamma, dy, rows, d, eps);
      const g0 = randomData(d, seed + 9);
      const [dgamma] = await runKernel(
        be,
        "rmsnorm_param_grad",
        [x, dy, f32(ref.rrms)],
        [acc ? g0 : d],
        [rows, d, acc ? 1 : 0],
      );
      const what = `rmsnorm_param_grad rows=${rows} d=${d} accumulate=${acc}`;
      const terms = paramTerms(x, dy, null, ref.rrms, rows, d, acc ? { gamma: g0 } : {});
      assertClose(dgamma, acc ? plus(g0, ref.dgamma) : ref.dgamma, 1e-4, what, terms.gamma);
    }),
    FC_RUNS,
  );
});

/**
 * One rmsnorm case's gradients against finite differences of the float64 forward. dgamma sums one
 * term per row; with few rows they can cancel (d = 1: each term is about |dy|), so it is measured
 * against the terms' sizes too.
 */
async function checkRmsnormFiniteDiff(be: Backend, rows: number, d: number, seed: number) {
  const eps = Math.fround(1e-5);
  const { x, gamma, dy } = problem(rows, d, seed, 0.5);
  const [, rrms] = await runKernel(be, "rmsnorm", [x, gamma], [rows * d, rows], [rows, d, eps]);
  const [dx] = await runKernel(be, "rmsnorm_backward", [x, gamma, dy, rrms], [rows * d], [
    rows,
    d,
  ]);
  const [dgamma] = await runKernel(be, "rmsnorm_param_grad", [x, dy, rrms], [d], [rows, d, 0]);
  const fwd = (xv: Arr, gv: Arr) => rmsnormRef(xv, gv, rows, d, eps).out;
  const what = `rmsnorm rows=${rows} d=${d} vs finite differences`;
  const terms = termScale(rrms, gamma, dy, rows, d);
  assertClose(dx, finiteDiff((v) => fwd(v, gamma), x, dy), 1e-4, `${what}: dx`, terms);
  const gammaTerms = paramTerms(x, dy, null, rrms, rows, d, {}).gamma;
  assertClose(
    dgamma,
    finiteDiff((v) => fwd(x, v), gamma, dy),
    1e-4,
    `${what}: dgamma`,
    gammaTerms,
  );
}

testBackends("rmsnorm gradients match finite differences", async (be) => {
  // Three terms of about 1 that sum to 5.2e-5: f32 gets dgamma right to 1e-7, 2e-3 of the sum.
  await checkRmsnormFiniteDiff(be, 3, 1, 1129569105);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }),
      fc.oneof(fc.constantFrom(1, 2, 3, 5, 17), fc.integer({ min: 1, max: 24 })),
      seedArb,
      (rows, d, seed) => checkRmsnormFiniteDiff(be, rows, d, seed),
    ),
    FC_RUNS,
  );
});

// ---- grids past 65535 workgroups ------------------------------------------------------------

testBackends("row kernels cover more than 65535 rows (folded grid)", async (be) => {
  const rows = 65537 + 3, d = 2, eps = Math.fround(1e-5);
  const { x, gamma, beta, dy } = problem(rows, d, 12345, 0);
  const ln = layernormRef(x, gamma, beta, rows, d, eps);
  const [out, mean, rstd] = await runKernel(be, "layernorm", [x, gamma, beta], [
    rows * d,
    rows,
    rows,
  ], [
    rows,
    d,
    eps,
  ]);
  assertClose(out, ln.out, 1e-4, "layernorm out");
  assertClose(mean, ln.mean, 1e-4, "layernorm mean");
  assertClose(rstd, ln.rstd, 1e-4, "layernorm rstd");
  const [dx] = await runKernel(be, "layernorm_backward", [x, gamma, dy, mean, rstd], [rows * d], [
    rows,
    d,
  ]);
  assertClose(dx, layernormGradRef(x, gamma, dy, rows, d, eps).dx, 1e-4, "layernorm_backward");
  const rms = rmsnormRef(x, gamma, rows, d, eps);
  const [rout, rrms] = await runKernel(be, "rmsnorm", [x, gamma], [rows * d, rows], [rows, d, eps]);
  assertClose(rout, rms.out, 1e-4, "rmsnorm out");
  assertClose(rrms, rms.rrms, 1e-4, "rmsnorm rrms");
  const [rdx] = await runKernel(be, "rmsnorm_backward", [x, gamma, dy, rrms], [rows * d], [
    rows,
    d,
  ]);
  assertClose(rdx, rmsnormGradRef(x, gamma, dy, rows, d, eps).dx, 1e-4, "rmsnorm_backward");
});
