// Autograd core: composite ops' gradients against float64 finite differences of float64
// references, gradient sinks (whole and per unit), frozen parameters (no gradient computed),
// no-grad mode and tidy scopes freeing intermediates.

import assert from "node:assert/strict";
import fc from "fast-check";
import * as A from "../../src/autograd/ops.ts";
import { backward, constant, noGrad, param, type Var } from "../../src/autograd/variable.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { assertClose, FC_RUNS, randomData, seedArb } from "../helpers/reference.ts";

type F64 = (xs: Float64Array[]) => number;

/** Central finite differences of a float64 scalar function, for input `which`. */
function numericGrad(f: F64, inputs: Float64Array[], which: number, h = 1e-6): Float64Array {
  const g = new Float64Array(inputs[which].length);
  for (let i = 0; i < g.length; i++) {
    const x = inputs[which][i];
    inputs[which][i] = x + h;
    const up = f(inputs);
    inputs[which][i] = x - h;
    const down = f(inputs);
    inputs[which][i] = x;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

const f64 = (a: Float32Array) => Float64Array.from(a);

/** [m,k]·[k,n] in float64 with optional storage transposes. */
function mm(
  a: Float64Array,
  b: Float64Array,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean,
) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      }
      c[i * n + j] = s;
    }
  }
  return c;
}

testBackends("bmm gradients for nn, nt and tn match finite differences", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 1, max: 7 }),
      fc.constantFrom([false, false], [false, true], [true, false]),
      seedArb,
      async (batch, m, n, k, [ta, tb], seed) => {
        const a = randomData(batch * m * k, seed), b = randomData(batch * k * n, seed + 1);
        const dy = randomData(batch * m * n, seed + 2);
        await tidyAsync(async () => {
          const va = param(Tensor.fromArray(be, a, ta ? [batch, k, m] : [batch, m, k]));
          const vb = param(Tensor.fromArray(be, b, tb ? [batch, n, k] : [batch, k, n]));
          const y = A.bmm(va, vb, { transA: ta, transB: tb });
          backward(y, Tensor.fromArray(be, dy, [batch, m, n]));
          const f: F64 = ([x, w]) => {
            let s = 0;
            for (let i = 0; i < batch; i++) {
              const c = mm(
                x.subarray(i * m * k, (i + 1) * m * k),
                w.subarray(i * k * n, (i + 1) * k * n),
                m,
                n,
                k,
                ta,
                tb,
              );
              c.forEach((v, j) => (s += v * dy[i * m * n + j]));
            }
            return s;
          };
          const ins = [f64(a), f64(b)];
          assertClose(await va.grad!.toArray(), numericGrad(f, ins, 0), 1e-4, "dA");
          assertClose(await vb.grad!.toArray(), numericGrad(f, ins, 1), 1e-4, "dB");
          va.zeroGrad();
          vb.zeroGrad();
        });
      },
    ),
    FC_RUNS,
  );
});

/** A linear layer's rows, in, out, weight layout, output scale and data seed. */
const LINEAR_CASE = [
  fc.integer({ min: 1, max: 6 }),
  fc.integer({ min: 1, max: 9 }),
  fc.integer({ min: 1, max: 9 }),
  fc.constantFrom("in_out" as const, "out_in" as const),
  fc.constantFrom(1, 0.75),
  seedArb,
] as const;

testBackends(
  "linear gradients in both weight layouts, with an output scale, match finite differences",
  async (be) => {
    await fc.assert(
      fc.asyncProperty(
        ...LINEAR_CASE,
        async (rows, din, dout, layout, scale, seed) => {
          const x = randomData(rows * din, seed), w = randomData(din * dout, seed + 1);
          const b = randomData(dout, seed + 2), dy = randomData(rows * dout, seed + 3);
          await tidyAsync(async () => {
            const vx = param(Tensor.fromArray(be, x, [rows, din]));
            const vw = param(
              Tensor.fromArray(be, w, layout === "in_out" ? [din, dout] : [dout, din]),
            );
            const vb = param(Tensor.fromArray(be, b, [dout]));
            backward(A.linear(vx, vw, vb, layout, scale), Tensor.fromArray(be, dy, [rows, dout]));
            const f: F64 = ([xx, ww, bb]) => {
              const c = mm(xx, ww, rows, dout, din, false, layout === "out_in");
              let s = 0;
              c.forEach((v, i) => (s += scale * (v + bb[i % dout]) * dy[i]));
              return s;
            };
            const ins = [f64(x), f64(w), f64(b)];
            for (const [i, v] of [vx, vw, vb].entries()) {
              assertClose(await v.grad!.toArray(), numericGrad(f, ins, i), 1e-4, `grad ${i}`);
              v.zeroGrad();
            }
          });
        },
      ),
      FC_RUNS,
    );
  },
);

testBackends(
  "a gradient sink takes every gradient reaching its leaf instead of grad; frozen parameters get none",
  async (be) => {
    await tidyAsync(async () => {
      const x = constant(Tensor.fromArray(be, randomData(6, 3), [2, 3]));
      const wData = randomData(12, 4);
      const frozen = param(Tensor.fromArray(be, randomData(4, 5), [4]));
      frozen.requiresGrad = false;
      // w used twice: the plain leaf sums both gradients into grad, the sink sees each one.
      const loss = (w: Var) =>
        A.add(A.linear(x, w, frozen, "in_out"), A.linear(x, w, null, "in_out"));
      const plain = param(Tensor.fromArray(be, wData, [3, 4]));
      backward(loss(plain));
      const want = await plain.grad!.toArray();
      plain.zeroGrad();
      const sunk = param(Tensor.fromArray(be, wData, [3, 4]));
      const seen: Tensor[] = [];
      sunk.gradSink = (g) => seen.push(g.clone());
      backward(loss(sunk));
      if (sunk.grad !== null) throw new Error("a leaf with a sink kept a gradient");
      if (seen.length !== 2 || seen.some((g) => g.shape.join("x") !== "3x4")) {
        throw new Error(`the sink saw ${seen.map((g) => g.shape.join("x"))}`);
      }
      const [a, b] = [await seen[0].toArray(), await seen[1].toArray()];
      want.forEach((w, i) => {
        if (Math.fround(a[i] + b[i]) !== w) {
          throw new Error(`entry ${i}: sink ${a[i]} + ${b[i]}, grad ${w}`);
        }
      });
      if (frozen.grad !== null) throw new Error("a frozen parameter received a gradient");
    });
  },
);

testBackends(
  "a unit sink gets just its units' gradient: linear computes only those, other ops' are gathered",
  async (be) => {
    await fc.assert(
      fc.asyncProperty(
        ...LINEAR_CASE,
        async (rows, din, dout, layout, scale, seed) => {
          const units = [...Array(dout).keys()].filter((u) => (u * 7 + seed) % 3 !== 0);
          const wShape = layout === "in_out" ? [din, dout] : [dout, din];
          const axis = layout === "in_out" ? 1 : 0;
          const x = randomData(rows * din, seed), w = randomData(din * dout, seed + 1);
          const b = randomData(dout, seed + 2), dy = randomData(rows * dout, seed + 3);
          await tidyAsync(async () => {
            const vx = constant(Tensor.fromArray(be, x, [rows, din]));
            const seedT = Tensor.fromArray(be, dy, [rows, dout]);
            const dense = [
              param(Tensor.fromArray(be, w, wShape)),
              param(Tensor.fromArray(be, b, [dout])),
            ];
            backward(A.linear(vx, dense[0], dense[1], layout, scale), seedT);
            const ids = Tensor.fromArray(be, units, [units.length]);
            const unit = [
              param(Tensor.fromArray(be, w, wShape)),
              param(Tensor.fromArray(be, b, [dout])),
            ];
            const seen: Tensor[][] = [[], []];
            unit.forEach((v, i) => {
              v.gradUnits = { ids, axis: i === 0 ? axis : 1 };
              v.gradSink = (g) => seen[i].push(g.clone());
            });
            backward(A.linear(vx, unit[0], unit[1], layout, scale), seedT);
            // The same through an op that only gives dense gradients (the fallback gathers).
            backward(A.scale(unit[0], 2), Tensor.full(be, wShape, 1));
            const full = [await dense[0].grad!.toArray(), await dense[1].grad!.toArray()];
            const cols = layout === "in_out" ? dout : din;
            // Units of the dense gradient: columns of [din, dout] and of the bias, rows of [dout, din].
            const pick = (g: Float32Array, r: number, c: number, ax: 0 | 1) =>
              Float32Array.from(
                { length: ax === 0 ? units.length * c : r * units.length },
                (_, i) =>
                  ax === 0
                    ? g[units[Math.floor(i / c)] * c + (i % c)]
                    : g[Math.floor(i / units.length) * c + units[i % units.length]],
              );
            const wantW = pick(full[0], wShape[0], cols, axis);
            const wantB = pick(full[1], 1, dout, 1);
            assert.equal(
              seen[0].length,
              2,
              "weight: linear's compact gradient and the gathered one",
            );
            assert.equal(seen[1].length, 1, "bias: linear's compact gradient");
            assertClose(await seen[0][0].toArray(), Array.from(wantW), 1e-5, "weight units");
            assertClose(await seen[1][0].toArray(), Array.from(wantB), 1e-5, "bias units");
            const twos = pick(new Float32Array(din * dout).fill(2), wShape[0], cols, axis);
            assert.deepEqual(Array.from(await seen[0][1].toArray()), Array.from(twos), "gathered");
            assert.ok(unit.every((v) => v.grad === null), "a unit-sunk leaf kept a gradient");
          });
        },
      ),
      FC_RUNS,
    );
  },
);

testBackends("noGrad records nothing and tidy frees every intermediate", async (be) => {
  const before = be.allocatedBytes();
  const w = param(Tensor.fromArray(be, randomData(16, 1), [4, 4]));
  await tidyAsync(async () => {
    const x = constant(Tensor.fromArray(be, randomData(8, 2), [2, 4]));
    const y = noGrad(() => A.gelu(A.linear(x, w, null, "in_out")));
    if (y.requiresGrad || y.parents.length) throw new Error("noGrad recorded a graph");
    await y.value.toArray();
  });
  await tidyAsync(async () => {
    const v = A.gelu(
      A.linear(constant(Tensor.fromArray(be, randomData(8, 2), [2, 4])), w, null, "out_in"),
    );
    backward(v);
    await v.value.toArray();
  });
  w.zeroGrad();
  w.value.free();
  // Everything above was freed: nothing leaked past the scope.
  const after = be.allocatedBytes();
  const leaked = after - before;
  if (leaked > 0) throw new Error(`${leaked} bytes leaked`);
});
