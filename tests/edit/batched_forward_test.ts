// The metrics' batched forwards (src/edit/batched-forward.ts): calls made together give, per
// sequence, the logits and argmaxes of that sequence's own forward, on both architectures and
// both backends; the length batches cover every sequence once within their bounds; a sequence the
// model cannot take fails alone, and the calls after it still run.

import assert from "node:assert/strict";
import fc from "fast-check";
import { noGrad } from "../../src/autograd/variable.ts";
import { batchedForward, lengthBatches } from "../../src/edit/batched-forward.ts";
import { disposeModel } from "../../src/model/build.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { assertClose } from "../helpers/reference.ts";

Deno.test("lengthBatches: every sequence once, batches within their padding and size bounds", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 60 }),
      fc.integer({ min: 1, max: 200 }),
      (lengths, maxPositions) => {
        const batches = lengthBatches(lengths, maxPositions);
        assert.deepEqual(batches.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
        for (const b of batches) {
          assert.ok(b.length > 0);
          const ls = b.map((i) => lengths[i]);
          const real = ls.reduce((a, x) => a + x, 0);
          if (b.length === 1) continue;
          assert.ok(real <= maxPositions, `${real} positions over ${maxPositions}`);
          assert.ok(b.length * Math.max(...ls) <= 1.25 * real, `padding of [${ls}]`);
        }
      },
    ),
  );
});

for (const name of ["tiny-gpt2", "tiny-llama"]) {
  const dir = new URL(`../fixtures/${name}`, import.meta.url).pathname;
  testBackends(`${name}: batched logits and argmaxes equal each sequence's own`, async (be) => {
    const { model } = await loadModel(dir, be);
    const V = model.config.vocabSize, ctx = model.config.contextLength;
    const own = (ids: number[]) =>
      tidyAsync(async () =>
        await noGrad(() => model.forward(Tensor.fromArray(be, ids, [1, ids.length]))).value
          .toArray()
      );
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 1, maxLength: ctx }),
            { minLength: 1, maxLength: 12 },
          ),
          fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
          async (seqs, asArgmax) => {
            const bf = batchedForward(model);
            const got = await Promise.all(
              seqs.map((s, i) => asArgmax[i] ? bf.argmaxes(s) : bf.logits(s)),
            );
            for (let i = 0; i < seqs.length; i++) {
              const ref = await own(seqs[i]);
              if (!asArgmax[i]) {
                assertClose(got[i] as Float32Array, ref, 1e-5, `logits of sequence ${i}`);
                continue;
              }
              const am = got[i] as number[];
              assert.equal(am.length, seqs[i].length);
              am.forEach((tok, p) => {
                const row = ref.subarray(p * V, (p + 1) * V);
                // The batch's argmax is the reference's top logit, up to float rounding.
                assert.ok(row[tok] >= Math.max(...row) - 1e-5, `argmax of ${i} at ${p}`);
              });
            }
          },
        ),
        { numRuns: 6 },
      );
    } finally {
      disposeModel(model);
    }
  });
}

testBackends("a sequence past the context fails alone; later calls still run", async (be) => {
  const dir = new URL("../fixtures/tiny-gpt2", import.meta.url).pathname;
  const { model } = await loadModel(dir, be);
  try {
    const ctx = model.config.contextLength;
    const bf = batchedForward(model);
    const [tooLong, fine] = await Promise.allSettled([
      bf.argmaxes(new Array(ctx + 1).fill(1)),
      bf.argmaxes([1, 2, 3]),
    ]);
    assert.equal(tooLong.status, "rejected");
    assert.match(String((tooLong as PromiseRejectedResult).reason), /context/);
    assert.equal(fine.status, "fulfilled");
    await assert.rejects(bf.logits([]), /no tokens/);
    assert.equal((await bf.argmaxes([4, 5])).length, 2);
  } finally {
    disposeModel(model);
  }
});
