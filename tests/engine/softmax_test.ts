// Property tests of the softmax, loss and argmax kernels on both backends against float64
// references, with central finite differences of the references for every backward kernel.

import fc from "fast-check";
import type { Backend, DeviceBuffer } from "../../engine/backend.ts";
import { loadKernelModule } from "../../engine/wasm/backend.ts";
import {
  assertClose,
  FC_RUNS,
  numericGrad,
  POISON,
  randomData,
  seedArb,
} from "../helpers/reference.ts";
import { testBackends } from "../helpers/backends.ts";

// ---- helpers -------------------------------------------------------------------------------

/** Uploads data into a fresh buffer. */
function put(be: Backend, data: Float32Array): DeviceBuffer {
  const b = be.alloc(data.length);
  be.upload(b, data);
  return b;
}

/** A fresh buffer of n elements filled with POISON. */
function poisoned(be: Backend, n: number): DeviceBuffer {
  return put(be, new Float32Array(n).fill(POISON));
}

/** Random f32 values in [-amp, amp). */
function randn(n: number, seed: number, amp = 1): Float32Array {
  return randomData(n, seed).map((v) => v * amp);
}

/** Every element within tol relative error of its own expected value (floor `abs`). */
function assertRelEach(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  abs = 0,
  what = "",
) {
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (!(Math.abs(a - e) <= tol * Math.abs(e) + abs)) {
      throw new Error(
        `${what}: element ${i} is ${a}, expected ${e} (rel err ${Math.abs(a - e) / Math.abs(e)})`,
      );
    }
  }
}

const isGpu = (be: Backend) => be.name === "webgpu";

// ---- float64 references --------------------------------------------------------------------

function validCols(r: number, cols: number, qlen: number, causal: number): number {
  return causal ? Math.min(cols, Math.max(0, (r % qlen) + cols - qlen + 1)) : cols;
}

function softmaxRef(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  qlen: number,
  causal: number,
  scale: number,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const n = validCols(r, cols, qlen, causal);
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, scale * x[r * cols + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(scale * x[r * cols + j] - m);
    for (let j = 0; j < n; j++) out[r * cols + j] = Math.exp(scale * x[r * cols + j] - m) / s;
  }
  return out;
}

function lseRow(x: ArrayLike<number>, off: number, n: number): number {
  let m = -Infinity;
  for (let j = 0; j < n; j++) m = Math.max(m, x[off + j]);
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(x[off + j] - m);
  return m + Math.log(s);
}

function crossEntropyRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  rows: number,
  V: number,
) {
  const loss = new Float64Array(rows), lse = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    lse[r] = lseRow(logits, r * V, V);
    const t = targets[r];
    loss[r] = t < 0 ? 0 : lse[r] - logits[r * V + t];
  }
  return { loss, lse };
}

function klRef(p: ArrayLike<number>, q: ArrayLike<number>, rows: number, V: number): Float64Array {
  const kl = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const lp = lseRow(p, r * V, V), lq = lseRow(q, r * V, V);
    let s = 0;
    for (let j = 0; j < V; j++) {
      const a = p[r * V + j] - lp, b = q[r * V + j] - lq;
      s += Math.exp(a) * (a - b);
    }
    kl[r] = s;
  }
  return kl;
}

/** Exact float64 KL for nearly equal rows: sum P (d - c) with c = lseP - lseQ = -log E_P[e^-d]. */
function klRefPrecise(p: ArrayLike<number>, q: ArrayLike<number>, rows: number, V: number) {
  const kl = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const lp = lseRow(p, r * V, V);
    const P = (j: number) => Math.exp(p[r * V + j] - lp);
    const d = (j: number) => p[r * V + j] - q[r * V + j];
    let mu = 0;
    for (let j = 0; j < V; j++) mu += P(j) * d(j);
    // phi(x) = e^-x - 1 + x by series near 0 (float64, no cancellation).
    const phi = (x: number) => {
      if (Math.abs(x) > 0.1) return Math.expm1(-x) + x;
      let term = x * x / 2, s = 0;
      for (let k = 2; k < 30; k++) {
        s += term;
        term *= -x / (k + 1);
      }
      return s;
    };
    let u = 0, delta = 0;
    for (let j = 0; j < V; j++) {
      u += P(j) * phi(d(j) - mu);
      delta += P(j) * (d(j) - mu);
    }
    kl[r] = delta + Math.log1p(u - delta);
  }
  return kl;
}

// ---- vectorised exp ------------------------------------------------------------------------

Deno.test("wasm vectorised exp is within 1e-6 relative of Math.exp on [-87, 88]", async () => {
  const module = await loadKernelModule();
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  const probe = inst.exports.softmax_exp_probe as (x: number, out: number, n: number) => void;
  const n = 200003;
  const xs = new Float32Array(n);
  for (let i = 0; i < n; i++) xs[i] = -87 + (175 * i) / (n - 1);
  xs.set([0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, Math.fround(Math.LN2)], 0);
  const X = 1 << 20, O = X + n * 4 + 64;
  const heap = new Float32Array(memory.buffer);
  heap.set(xs, X / 4);
  probe(X, O, n);
  const got = heap.slice(O / 4, O / 4 + n);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(xs[i]);
    worst = Math.max(worst, Math.abs(got[i] - e) / e);
  }
  if (worst > 1e-6) throw new Error(`exp max relative error ${worst}`);
  // Below the range: exactly 0, also for -inf; NaN stays NaN.
  heap.set([-88, -100, -Infinity, NaN, -87.4], X / 4);
  probe(X, O, 5);
  const tail = heap.slice(O / 4, O / 4 + 5);
  if (tail[0] !== 0 || tail[1] !== 0 || tail[2] !== 0 || !Number.isNaN(tail[3]) || tail[4] !== 0) {
    throw new Error(`exp out of range gave ${tail}`);
  }
});

// ---- softmax -------------------------------------------------------------------------------

testBackends("softmax matches float64, causal and not", async (be) => {
  const maxCols = isGpu(be) ? 300 : 1200;
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 24 }),
      fc.integer({ min: 1, max: maxCols }),
      fc.boolean(),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: -3, max: 3, noNaN: true }),
      fc.constantFrom(1, 4, 30),
      seedArb,
      async (rows, cols, causal, qf, scale, amp, seed) => {
        const qlen = Math.max(1, Math.min(cols, Math.round(qf * cols)));
        const s = Math.fround(scale);
        const x = randn(rows * cols, seed, amp);
        const dx = put(be, x), dout = poisoned(be, rows * cols);
        be.dispatch("softmax", [dx, dout], [rows, cols, qlen, causal ? 1 : 0, s]);
        const got = await be.read(dout);
        const want = softmaxRef(x, rows, cols, qlen, causal ? 1 : 0, s);
        assertClose(got, want, 1e-4, `softmax ${rows}x${cols} q=${qlen} c=${causal}`);
        // Masked entries are exactly 0 and every row sums to 1.
        for (let r = 0; r < rows; r++) {
          const n = validCols(r, cols, qlen, causal ? 1 : 0);
          let sum = 0;
          for (let j = 0; j < cols; j++) {
            if (j >= n && got[r * cols + j] !== 0) {
              throw new Error(`masked ${r},${j} is ${got[r * cols + j]}`);
            }
            sum += got[r * cols + j];
          }
          if (Math.abs(sum - 1) > 1e-5) throw new Error(`row ${r} sums to ${sum}`);
        }
        be.free(dx);
        be.free(dout);
      },
    ),
    FC_RUNS,
  );
});

testBackends("softmax rejects causal qlen outside [1, cols]", (be) => {
  const x = be.alloc(12), out = be.alloc(12);
  for (const qlen of [0, 5]) {
    let threw = false;
    try {
      be.dispatch("softmax", [x, out], [3, 4, qlen, 1, 1]);
    } catch {
      threw = true;
    }
    if (!threw) throw new Error(`qlen ${qlen} accepted`);
  }
  be.free(x);
  be.free(out);
});

testBackends("softmax_backward matches float64 and finite differences", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: isGpu(be) ? 300 : 900 }),
      fc.double({ min: -3, max: 3, noNaN: true }),
      seedArb,
      async (rows, cols, scale, seed) => {
        const s = Math.fround(scale);
        const x = randn(rows * cols, seed, 3), dy = randn(rows * cols, seed + 7);
        const y = Float32Array.from(softmaxRef(x, rows, cols, 1, 0, s));
        const [by, bdy, bdx] = [put(be, y), put(be, dy), poisoned(be, rows * cols)];
        be.dispatch("softmax_backward", [by, bdy, bdx], [rows, cols, s]);
        const got = await be.read(bdx);
        const want = new Float64Array(rows * cols), terms = new Float64Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          let dot = 0, dotTerms = 0;
          for (let j = 0; j < cols; j++) {
            dot += y[r * cols + j] * dy[r * cols + j];
            dotTerms += Math.abs(y[r * cols + j] * dy[r * cols + j]);
          }
          for (let j = 0; j < cols; j++) {
            const i = r * cols + j;
            want[i] = s * y[i] * (dy[i] - dot);
            terms[i] = Math.abs(s * y[i]) * (Math.abs(dy[i]) + dotTerms);
          }
        }
        assertClose(got, want, 1e-4, `softmax_backward ${rows}x${cols}`, terms);
        // Central differences of an O(1) function carry ~1e-10 of float64 cancellation noise:
        // they check the gradient only where it stands well above that (|scale| >= 1e-3); the
        // float64 formula above checks every scale, 1e-11 included.
        if (rows * cols <= 300 && Math.abs(s) >= 1e-3) {
          const fd = numericGrad((xx) => {
            const yy = softmaxRef(xx, rows, cols, 1, 0, s);
            return yy.reduce((a, v, i) => a + v * dy[i], 0);
          }, x);
          assertClose(
            got,
            fd,
            1e-4,
            `softmax_backward vs finite differences ${rows}x${cols}`,
            terms,
          );
        }
        [by, bdy, bdx].forEach((b) => be.free(b));
      },
    ),
    FC_RUNS,
  );
});

testBackends("causal softmax backward through the mask matches finite differences", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 12 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      seedArb,
      async (b, cols, qf, seed) => {
        const qlen = Math.max(1, Math.min(cols, Math.round(qf * cols)));
        const rows = b * qlen, s = 0.37;
        const x = randn(rows * cols, seed, 2), dy = randn(rows * cols, seed + 3);
        const [bx, by, bdy, bdx] = [
          put(be, x),
          poisoned(be, rows * cols),
          put(be, dy),
          poisoned(be, rows * cols),
        ];
        be.dispatch("softmax", [bx, by], [rows, cols, qlen, 1, s]);
        be.dispatch("softmax_backward", [by, bdy, bdx], [rows, cols, s]);
        const got = await be.read(bdx);
        const fd = numericGrad((xx) => {
          const yy = softmaxRef(xx, rows, cols, qlen, 1, s);
          return yy.reduce((a, v, i) => a + v * dy[i], 0);
        }, x);
        assertClose(got, fd, 1e-4, `causal softmax grad ${rows}x${cols} q=${qlen}`);
        [bx, by, bdy, bdx].forEach((d) => be.free(d));
      },
    ),
    { numRuns: 15 },
  );
});

// ---- cross-entropy -------------------------------------------------------------------------

function randomTargets(rows: number, V: number, seed: number): Float32Array {
  const u = randomData(rows, seed);
  // About one in five rows ignored (-1 or -100), the rest uniform in [0, V).
  return u.map((v, r) => {
    const a = (v + 1) / 2;
    if (a < 0.2) return r % 2 ? -1 : -100;
    return Math.min(V - 1, Math.floor(((a - 0.2) / 0.8) * V));
  });
}

testBackends("cross_entropy matches float64 with ignored targets", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 1, max: isGpu(be) ? 700 : 3000 }),
      fc.constantFrom(1, 5, 20),
      seedArb,
      async (rows, V, amp, seed) => {
        const logits = randn(rows * V, seed, amp), targets = randomTargets(rows, V, seed + 1);
        const [bl, bt, bloss, blse] = [
          put(be, logits),
          put(be, targets),
          poisoned(be, rows),
          poisoned(be, rows),
        ];
        be.dispatch("cross_entropy", [bl, bt, bloss, blse], [rows, V]);
        const [loss, lse] = [await be.read(bloss), await be.read(blse)];
        const want = crossEntropyRef(logits, targets, rows, V);
        assertClose(lse, want.lse, 1e-5, `lse ${rows}x${V}`);
        // loss = lse - x[target] is a difference of f32 values: its error is relative to those
        // operands (a confident row's loss of 3e-5 next to an lse of 20 carries f32 rounding of
        // 20, not of 3e-5), so each row is scaled by the larger operand.
        for (let r = 0; r < rows; r++) {
          const scale = Math.max(Math.abs(want.lse[r]), Math.abs(want.loss[r]), 1e-6);
          if (!(Math.abs(loss[r] - want.loss[r]) <= 1e-4 * scale)) {
            throw new Error(`loss ${rows}x${V} row ${r}: ${loss[r]}, expected ${want.loss[r]}`);
          }
        }
        for (let r = 0; r < rows; r++) {
          if (targets[r] < 0 && loss[r] !== 0) {
            throw new Error(`ignored row ${r} has loss ${loss[r]}`);
          }
        }
        [bl, bt, bloss, blse].forEach((b) => be.free(b));
      },
    ),
    FC_RUNS,
  );
});

testBackends(
  "cross_entropy over a 50257-word vocabulary, and out-of-range targets give NaN",
  async (be) => {
    const rows = 3, V = 50257;
    const logits = randn(rows * V, 99, 8), targets = new Float32Array([50256, -1, V]);
    const [bl, bt, bloss, blse] = [
      put(be, logits),
      put(be, targets),
      poisoned(be, rows),
      poisoned(be, rows),
    ];
    be.dispatch("cross_entropy", [bl, bt, bloss, blse], [rows, V]);
    const [loss, lse] = [await be.read(bloss), await be.read(blse)];
    const want = crossEntropyRef(logits, targets.map((t) => (t >= V ? -1 : t)), rows, V);
    assertClose(lse, want.lse, 1e-5, "lse 50257");
    assertClose(loss.slice(0, 2), want.loss.slice(0, 2), 1e-4, "loss 50257");
    if (!Number.isNaN(loss[2])) throw new Error(`target V gave loss ${loss[2]}`);
    const dloss = new Float32Array([0.5, 1, 1]);
    const [bd, bg] = [put(be, dloss), poisoned(be, rows * V)];
    be.dispatch("cross_entropy_backward", [bl, bt, blse, bd, bg], [rows, V]);
    const g = await be.read(bg);
    const wantG = new Float64Array(V);
    for (let j = 0; j < V; j++) {
      wantG[j] = 0.5 *
        (Math.exp(logits[j] - want.lse[0]) - (j === 50256 ? 1 : 0));
    }
    assertClose(g.slice(0, V), wantG, 1e-4, "dlogits 50257");
    for (let j = V; j < 2 * V; j++) if (g[j] !== 0) throw new Error(`ignored row gradient ${g[j]}`);
    for (let j = 2 * V; j < 3 * V; j++) {
      if (!Number.isNaN(g[j])) throw new Error(`bad target gradient ${g[j]}`);
    }
    [bl, bt, bloss, blse, bd, bg].forEach((b) => be.free(b));
  },
);

testBackends("cross_entropy_backward matches float64 and finite differences", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 10 }),
      fc.integer({ min: 1, max: isGpu(be) ? 400 : 1500 }),
      seedArb,
      async (rows, V, seed) => {
        const logits = randn(rows * V, seed, 4), targets = randomTargets(rows, V, seed + 1);
        const dloss = randn(rows, seed + 2);
        const ref = crossEntropyRef(logits, targets, rows, V);
        const lse = Float32Array.from(ref.lse);
        const bufs = [
          put(be, logits),
          put(be, targets),
          put(be, lse),
          put(be, dloss),
          poisoned(be, rows * V),
        ];
        be.dispatch("cross_entropy_backward", bufs, [rows, V]);
        const got = await be.read(bufs[4]);
        const want = new Float64Array(rows * V);
        for (let r = 0; r < rows; r++) {
          if (targets[r] < 0) continue;
          for (let j = 0; j < V; j++) {
            const i = r * V + j;
            want[i] = (Math.exp(logits[i] - ref.lse[r]) - (j === targets[r] ? 1 : 0)) * dloss[r];
          }
        }
        assertClose(got, want, 1e-4, `dlogits ${rows}x${V}`);
        if (rows * V <= 300) {
          const fd = numericGrad((x) => {
            const l = crossEntropyRef(x, targets, rows, V).loss;
            return l.reduce((a, v, r) => a + v * dloss[r], 0);
          }, logits);
          assertClose(got, fd, 1e-4, `dlogits vs finite differences ${rows}x${V}`);
        }
        bufs.forEach((b) => be.free(b));
      },
    ),
    FC_RUNS,
  );
});

// ---- KL divergence -------------------------------------------------------------------------

testBackends("kl_div matches float64 for unrelated rows", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: 1, max: isGpu(be) ? 500 : 2000 }),
      fc.constantFrom(1, 3, 10),
      seedArb,
      async (rows, V, amp, seed) => {
        const p = randn(rows * V, seed, amp), q = randn(rows * V, seed + 1, amp);
        const [bp, bq, bk] = [put(be, p), put(be, q), poisoned(be, rows)];
        be.dispatch("kl_div", [bp, bq, bk], [rows, V]);
        const got = await be.read(bk);
        assertClose(got, klRef(p, q, rows, V), 1e-4, `kl ${rows}x${V}`);
        [bp, bq, bk].forEach((b) => be.free(b));
      },
    ),
    FC_RUNS,
  );
});

testBackends("kl_div keeps relative accuracy when q is close to p", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 2, max: isGpu(be) ? 400 : 1500 }),
      fc.constantFrom(1e-1, 1e-2, 1e-3, 1e-4),
      seedArb,
      async (rows, V, eps, seed) => {
        const p = randn(rows * V, seed, 4), noise = randn(rows * V, seed + 1, eps);
        const q = p.map((v, i) => v + noise[i]);
        const [bp, bq, bk] = [put(be, p), put(be, q), poisoned(be, rows)];
        be.dispatch("kl_div", [bp, bq, bk], [rows, V]);
        const got = await be.read(bk);
        // Relative to each row's own divergence, however small.
        assertRelEach(
          got,
          klRefPrecise(p, q, rows, V),
          1e-4,
          1e-20,
          `kl near ${rows}x${V} eps=${eps}`,
        );
        // q = p + const: exactly 0.
        be.upload(bq, p.map((v) => v + 1));
        be.dispatch("kl_div", [bp, bq, bk], [rows, V]);
        const zero = await be.read(bk);
        assertRelEach(zero, new Float64Array(rows), 0, 1e-7, "kl of a shifted copy");
        [bp, bq, bk].forEach((b) => be.free(b));
      },
    ),
    { numRuns: 20 },
  );
});

testBackends("kl_div_backward matches float64 and finite differences", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 10 }),
      fc.integer({ min: 1, max: isGpu(be) ? 400 : 1500 }),
      fc.constantFrom(1e-3, 0.1, 3),
      seedArb,
      async (rows, V, spread, seed) => {
        const p = randn(rows * V, seed, 3), noise = randn(rows * V, seed + 1, spread);
        const q = p.map((v, i) => v + noise[i]);
        const dkl = randn(rows, seed + 2);
        const [bp, bq, bd, bg] = [put(be, p), put(be, q), put(be, dkl), poisoned(be, rows * V)];
        be.dispatch("kl_div_backward", [bp, bq, bd, bg], [rows, V]);
        const got = await be.read(bg);
        const want = new Float64Array(rows * V);
        for (let r = 0; r < rows; r++) {
          const lp = lseRow(p, r * V, V), lq = lseRow(q, r * V, V);
          for (let j = 0; j < V; j++) {
            const i = r * V + j;
            // Q - P = P expm1((q - lq) - (p - lp)) in float64.
            want[i] = Math.exp(p[i] - lp) * Math.expm1((q[i] - lq) - (p[i] - lp)) * dkl[r];
          }
        }
        assertClose(got, want, 1e-4, `dq ${rows}x${V} spread=${spread}`);
        if (rows * V <= 300 && spread > 0.01) {
          const fd = numericGrad((x) => {
            const k = klRef(p, x, rows, V);
            return k.reduce((a, v, r) => a + v * dkl[r], 0);
          }, q);
          assertClose(got, fd, 1e-4, `dq vs finite differences ${rows}x${V}`);
        }
        [bp, bq, bd, bg].forEach((b) => be.free(b));
      },
    ),
    FC_RUNS,
  );
});

// ---- argmax --------------------------------------------------------------------------------

testBackends("argmax_rows picks the lowest index of the maximum", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 1, max: isGpu(be) ? 1000 : 5000 }),
      fc.boolean(),
      seedArb,
      async (rows, cols, coarse, seed) => {
        // Coarse values make ties likely.
        const x = randn(rows * cols, seed, 1).map((v) => (coarse ? Math.round(v * 3) : v));
        const [bx, bo] = [put(be, x), poisoned(be, rows)];
        be.dispatch("argmax_rows", [bx, bo], [rows, cols]);
        const got = await be.read(bo);
        for (let r = 0; r < rows; r++) {
          let best = 0;
          for (let j = 1; j < cols; j++) if (x[r * cols + j] > x[r * cols + best]) best = j;
          if (got[r] !== best) {
            throw new Error(`row ${r}: got ${got[r]}, want ${best} (${rows}x${cols})`);
          }
        }
        be.free(bx);
        be.free(bo);
      },
    ),
    FC_RUNS,
  );
});

// ---- more than 65535 rows (folded grid) ----------------------------------------------------

testBackends("row kernels cover more than 65535 rows", async (be) => {
  const rows = 65537 + 3, cols = 3;
  const x = randn(rows * cols, 5, 4);
  const [bx, bo, ba] = [put(be, x), poisoned(be, rows * cols), poisoned(be, rows)];
  be.dispatch("softmax", [bx, bo], [rows, cols, 1, 0, 1]);
  be.dispatch("argmax_rows", [bx, ba], [rows, cols]);
  const got = await be.read(bo);
  assertClose(got, softmaxRef(x, rows, cols, 1, 0, 1), 1e-4, "softmax 65540 rows");
  const am = await be.read(ba);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (x[r * cols + j] > x[r * cols + best]) best = j;
    if (am[r] !== best) throw new Error(`argmax row ${r}: ${am[r]} != ${best}`);
  }
  [bx, bo, ba].forEach((b) => be.free(b));
});
