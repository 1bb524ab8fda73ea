// mergeChanges: successive edits' changes of the same tensors as one change per tensor, which
// applied to the original weights gives what the edits gave one after another, and whose
// `before` values are the original ones.

import fc from "fast-check";
import { mergeChanges, type TensorChange } from "../../src/io/patch.ts";

const SIZE = 12;
const NAMES = ["a", "b"];

/** One edit's change of a tensor: ascending distinct indices, the values before and after. */
const edit = fc.tuple(
  fc.constantFrom(...NAMES),
  fc.uniqueArray(fc.integer({ min: 0, max: SIZE - 1 }), { minLength: 1, maxLength: SIZE }),
  fc.array(fc.float({ noNaN: true }), { minLength: SIZE, maxLength: SIZE }),
);

Deno.test("mergeChanges: one change per tensor, equal to the edits applied in turn", () => {
  fc.assert(fc.property(fc.array(fc.array(edit, { maxLength: 2 }), { maxLength: 4 }), (edits) => {
    const original = new Map(
      NAMES.map((n, k) => [n, Float32Array.from({ length: SIZE }, (_, i) => k * SIZE + i)]),
    );
    const now = new Map([...original].map(([n, w]) => [n, w.slice()]));
    const all: TensorChange[][] = edits.map((changes) =>
      changes.map(([name, idx, values]) => {
        const indices = Uint32Array.from(idx.sort((x, y) => x - y));
        const w = now.get(name)!;
        const before = Float32Array.from(indices, (i) => w[i]);
        const after = Float32Array.from(indices, (i) => values[i]);
        indices.forEach((i, k) => (w[i] = after[k]));
        return { name, shape: [SIZE], indices, before, after };
      })
    );
    const merged = mergeChanges(all);
    if (new Set(merged.map((c) => c.name)).size !== merged.length) return false;
    for (const n of NAMES) {
      const w = original.get(n)!.slice();
      for (const c of merged.filter((c) => c.name === n)) {
        for (let k = 0; k < c.indices.length; k++) {
          if (k > 0 && c.indices[k] <= c.indices[k - 1]) return false;
          if (!Object.is(c.before[k], original.get(n)![c.indices[k]])) return false;
          w[c.indices[k]] = c.after[k];
        }
      }
      if (w.some((v, i) => !Object.is(v, now.get(n)![i]))) return false;
    }
    return true;
  }));
});
