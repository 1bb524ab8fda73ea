// Training batches: packed rows are exact ctx + 1 slices of the documents joined by end-of-text,
// and sentence batches pad with ignored targets.

import assert from "node:assert/strict";
import fc from "fast-check";
import { packRows, sentenceSource } from "../../src/train/data.ts";

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
