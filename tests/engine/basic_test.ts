// Property tests of the elementwise basics (fill, add) on both backends against float64.

import fc from "fast-check";
import { assertClose, FC_RUNS, POISON, randomData, seedArb } from "../helpers/reference.ts";
import { testBackends } from "../helpers/backends.ts";

testBackends("add matches float64 on random sizes", async (be) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 70000 }), seedArb, async (n, seed) => {
      const a = randomData(n, seed), b = randomData(n, seed + 1);
      const [da, db, dout] = [be.alloc(n), be.alloc(n), be.alloc(n)];
      be.upload(da, a);
      be.upload(db, b);
      be.upload(dout, new Float32Array(n).fill(POISON));
      be.dispatch("add", [da, db, dout], [n]);
      const got = await be.read(dout);
      assertClose(got, Array.from(a, (x, i) => x + b[i]), 1e-6, `add n=${n}`);
      [da, db, dout].forEach((x) => be.free(x));
    }),
    FC_RUNS,
  );
});

testBackends("fill writes every element", async (be) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 20000 }),
      fc.float({ noNaN: true }),
      async (n, v) => {
        const d = be.alloc(n);
        be.upload(d, new Float32Array(n).fill(POISON));
        be.dispatch("fill", [d], [n, v]);
        const got = await be.read(d);
        for (let i = 0; i < n; i++) {
          if (!Object.is(got[i], Math.fround(v))) {
            throw new Error(`element ${i}: ${got[i]} != ${v}`);
          }
        }
        be.free(d);
      },
    ),
    FC_RUNS,
  );
});
