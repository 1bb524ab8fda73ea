// Training batches: packed rows are exact ctx + 1 slices of the documents joined by end-of-text,
// and sentence batches pad with ignored targets.

import assert from "node:assert/strict";
import fc from "fast-check";
import { packedSource, packRows, sentenceSource, withInputNoise } from "../../src/train/data.ts";

Deno.test("packRows: rows are consecutive ctx + 1 slices of the joined stream", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 20 }), { maxLength: 12 }),
      fc.integer({ min: 1, max: 9 }),
      (docs, ctx) => {
        const stream = docs.flatMap((d) => [...d, 0]);
        const rows = packRows(docs, 0, ctx);
        assert.equal(rows.length, Math.floor(stream.length / (ctx + 1)));
        rows.forEach((r, i) => {
          assert.deepEqual([...r], stream.slice(i * (ctx + 1), (i + 1) * (ctx + 1)));
        });
      },
    ),
  );
});

Deno.test("sentenceSource: padded rows ignore their padding and shift targets by one", () => {
  const src = sentenceSource([[5, 6, 7], [8, 9]], 1);
  const b = src.batch(0, 0, 2);
  assert.equal(b.rows, 2);
  const rows = [b.ids.slice(0, 2), b.ids.slice(2)];
  const targets = [b.targets.slice(0, 2), b.targets.slice(2)];
  for (let i = 0; i < 2; i++) {
    if (rows[i][0] === 5) assert.deepEqual([rows[i], targets[i]], [[5, 6], [6, 7]]);
    else assert.deepEqual([rows[i], targets[i]], [[8, 0], [9, -1]]);
  }
});

Deno.test("input noise replaces about its share of inputs, never targets or end-of-text", () => {
  const eot = 9;
  const docs = Array.from(
    { length: 400 },
    (_, d) => Array.from({ length: 7 }, (_, i) => (d + i) % 9),
  );
  const base = packedSource(() => docs.map((_, i) => String(i)), (t) => docs[Number(t)], eot, 16);
  const noisy = withInputNoise(base, 0.2, 50, eot, 3);
  const clean = base.batch(0, 0, base.size(0));
  const b = noisy.batch(0, 0, noisy.size(0));
  assert.deepEqual(b.targets, clean.targets);
  let changed = 0;
  b.ids.forEach((id, i) => {
    if (clean.ids[i] === eot) assert.deepEqual(id, eot);
    else if (id !== clean.ids[i]) changed++;
    if (id === eot) assert.deepEqual(clean.ids[i], eot);
  });
  const nonEot = clean.ids.filter((id) => id !== eot).length;
  // 20% drawn, less the draws that hit the same token (1 in 49): about 19.6%.
  const share = changed / nonEot;
  assert.ok(share > 0.17 && share < 0.22, `replaced ${share}`);
  // The same rows read alone or in another batch get the same noise (a resumed run).
  assert.deepEqual(noisy.batch(0, 5, 9).ids, b.ids.slice(5 * 16, 9 * 16));
  assert.notDeepEqual(noisy.batch(1, 0, 4).ids, b.ids.slice(0, 4 * 16));
  assert.deepEqual(withInputNoise(base, 0, 50, eot, 3).batch(0, 0, 4).ids, clean.ids.slice(0, 64));
});
