// mergeChanges: successive edits' changes of the same tensors as one change per tensor, which
// applied to the original weights gives what the edits gave one after another, and whose
// `before` values are the original ones; applyPatchTo's refusal of an f16 edit's patch; the
// source dtypes a patch records and the dtype a patched tensor is written in.

import assert from "node:assert/strict";
import fc from "fast-check";
import { SafetensorsError } from "../../src/io/errors.ts";
import {
  applyPatchTo,
  decodePatch,
  encodePatch,
  mergeChanges,
  patchedDtype,
  type PatchEntry,
  type TensorChange,
} from "../../src/io/patch.ts";

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

Deno.test("applyPatchTo names an f16 edit's patch applied to the f32 weights it rounded", () => {
  // An edit with --dtype f16 records the f16-rounded weights as "before": applied to the F32
  // checkpoint it used to be refused as "another model's".
  const w = Float32Array.from({ length: 8 }, (_, i) => 0.1 * (i + 1));
  const indices = Int32Array.of(1, 5);
  const entry = (before: Float32Array): PatchEntry => ({
    name: "m",
    shape: [8],
    indices,
    before,
    after: Float32Array.of(7, 8),
  });
  const rounded = Float32Array.from(indices, (i) => Math.f16round(w[i]));
  assert.throws(
    () => applyPatchTo(new Map([["m", w.slice()]]), [entry(rounded)], "apply"),
    (e: Error) => e instanceof SafetensorsError && /rounded to f16: .* --dtype f16/.test(e.message),
  );
  // Values of other weights keep the old explanation.
  assert.throws(
    () => applyPatchTo(new Map([["m", w.slice()]]), [entry(Float32Array.of(3, 4))], "apply"),
    (e: Error) => e instanceof SafetensorsError && /made from other weights/.test(e.message),
  );
  // With --other-weights the edited entries are written and the rest keep their f32 values.
  const out = w.slice();
  applyPatchTo(new Map([["m", out]]), [entry(rounded)], "apply", { otherWeights: true });
  assert.deepEqual([out[1], out[5], out[0]], [7, 8, w[0]]);
});

Deno.test("a patch holding NaN or an infinite value is refused, naming the tensor and entry", async () => {
  // patch apply wrote it into the model, which the loader then refused as damaged.
  const change = (after: number, before: number): TensorChange => ({
    name: "h.0.w",
    shape: [2, 3],
    indices: Uint32Array.from([1, 4]),
    before: Float32Array.from([0.5, before]),
    after: Float32Array.from([0.25, after]),
  });
  const cases: [TensorChange, RegExp][] = [
    [change(NaN, 1), /^p\.safetensors \[h\.0\.w::after\]: entry 1 \(index 4\) is NaN/],
    [change(2, Infinity), /^p\.safetensors \[h\.0\.w::before\]: entry 1 \(index 4\) is Infinity/],
    [change(-Infinity, 1), /\[h\.0\.w::after\]: entry 1 \(index 4\) is -Infinity/],
  ];
  for (const [c, re] of cases) {
    const bytes = await encodePatch([c]);
    await assert.rejects(
      decodePatch("p.safetensors", bytes),
      (e: unknown) => e instanceof SafetensorsError && re.test(e.message),
      re.source,
    );
  }
  const ok = await decodePatch("p.safetensors", await encodePatch([change(2, 1)]));
  assert.deepEqual([...ok[0].after], [0.25, 2]);
});

/** `bytes` (a safetensors file) with its metadata's `key` set to `value`. */
function withMetadata(bytes: Uint8Array, key: string, value: string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  header.__metadata__[key] = value;
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

Deno.test("a patch records its tensors' source dtypes, and revert writes them back where exact", async () => {
  const change = (name: string): TensorChange => ({
    name,
    shape: [2],
    indices: Uint32Array.from([1]),
    before: Float32Array.from([0.5]),
    after: Float32Array.from([0.1]),
  });
  const changes = [change("a"), change("b"), change("c")];
  // "c" has no dtype known and the unchanged "d" is not in the patch: neither is recorded.
  const dtypes = new Map([["a", "F16"], ["b", "BF16"], ["d", "F16"]]);
  const read = await decodePatch("p.safetensors", await encodePatch(changes, {}, dtypes));
  assert.deepEqual(read.map((e) => e.dtype), ["F16", "BF16", undefined]);
  // Exact in the recorded dtype: that one, whatever the patched model stores; else the stored
  // one where exact (an older patch, recording none, too), else F32.
  const [a, b, c] = read;
  assert.equal(patchedDtype(Float32Array.from([1, 0.5]), "F32", a), "F16");
  assert.equal(patchedDtype(Float32Array.from([1, 0.5]), "F32", b), "BF16");
  assert.equal(patchedDtype(Float32Array.from([1, 0.1]), "F16", a), "F32");
  assert.equal(patchedDtype(Float32Array.from([1, 1 / 3]), "BF16", a), "F32");
  assert.equal(patchedDtype(Float32Array.from([1, 0.5]), "BF16", c), "BF16");
  assert.equal(patchedDtype(Float32Array.from([1, 0.5]), "F32", c), "F32");
  // A damaged record is refused as the file's, not used.
  const bytes = await encodePatch(changes);
  const bad: [string, RegExp][] = [
    ["{", /\[__metadata__\.dtypes\]: invalid JSON/],
    ['["F16"]', /\[__metadata__\.dtypes\]: must map tensor names to dtypes/],
    ['{"a": "I32"}', /\[__metadata__\.dtypes\.a\]: "I32" is not one of F32, F16, BF16, F64/],
    ['{"z": "F16"}', /\[__metadata__\.dtypes\.z\]: names no tensor of the patch/],
  ];
  for (const [value, re] of bad) {
    await assert.rejects(
      decodePatch("p.safetensors", withMetadata(bytes, "dtypes", value)),
      (e: unknown) => e instanceof SafetensorsError && re.test(e.message),
      re.source,
    );
  }
});
