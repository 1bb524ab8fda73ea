// Context prefixes: the rows behind each prefix keep the row's scored positions and score none of
// the prefix's; rows past the context are left out; the sampled prefixes on the tiny model are
// the empty one and `count` seeded samples, the same on a second call.

import fc from "fast-check";
import { contextPrefixes, prefixedRows } from "../../src/edit/context-prefixes.ts";
import { testBackends } from "../helpers/backends.ts";
import { assert, withModel } from "../helpers/tiny.ts";

Deno.test("prefixedRows: the row, then the row behind each prefix that fits, after its leading tokens", () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 8 }),
    fc.array(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 6 }), { maxLength: 5 }),
    fc.integer({ min: 8, max: 16 }),
    fc.integer({ min: 0, max: 1 }),
    (ids, prefixes, context, leading) => {
      const row = { ids, targets: ids.map((x, i) => (i % 2 ? x : -1)) };
      const rows = prefixedRows(row, prefixes, context, leading);
      const fitting = prefixes.filter((p) => p.length > 0 && p.length + ids.length <= context);
      if (rows[0] !== row || rows.length !== 1 + fitting.length) return false;
      const [lead, rest] = [ids.slice(0, leading), ids.slice(leading)];
      const [leadT, restT] = [row.targets.slice(0, leading), row.targets.slice(leading)];
      return fitting.every((p, k) => {
        const r = rows[k + 1];
        return r.ids.join() === [...lead, ...p, ...rest].join() &&
          r.targets.join() === [...leadT, ...p.map(() => -1), ...restT].join();
      });
    },
  ));
});

testBackends("contextPrefixes: the empty prefix and `count` seeded samples, cached", async (be) => {
  await withModel(be, async (m) => {
    const tok = m.tokenizer!;
    const a = await contextPrefixes(m.model, tok, 3, 4, 7);
    assert(a.length === 4 && a[0].length === 0, `prefixes ${JSON.stringify(a)}`);
    for (const p of a.slice(1)) assert(p.length >= 2, `a prefix of ${p.length} tokens`);
    assert((await contextPrefixes(m.model, tok, 3, 4, 7)) === a, "not cached per model");
    assert((await contextPrefixes(m.model, tok, 0, 4, 7)).join() === "", "count 0: only []");
  });
});
