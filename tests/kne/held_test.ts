// KNE's spareHeld: the units earlier edits hold are read back exactly from their changed entries
// (any entry of a unit, or its bias entry, marks it), their scores alone are scaled, held units a
// selection must still take are ranked by their own scores, and with spareHeld 1 a second edit's
// ensemble shares no unit with the first's, where without it the two overlap on the tiny fixture.

import fc from "fast-check";
import type { TensorChange } from "../../src/io/patch.ts";
import { type Attribution, type ScoredTensor, unitEntries } from "../../src/kne/attribution.ts";
import { keptUnits, selectEnsemble } from "../../src/kne/ensemble.ts";
import { heldUnits, spareHeldUnits } from "../../src/kne/held.ts";
import { kneEdit } from "../../src/kne/kne.ts";
import type { ParamInfo } from "../../src/model/lm.ts";
import { getBackend } from "../helpers/backends.ts";
import { TINY_HP } from "../helpers/kne.ts";
import { assert, target, withModel } from "../helpers/tiny.ts";

function scored(name: string, shape: [number, number], axis: 0 | 1, bias: boolean): ScoredTensor {
  const info: ParamInfo = {
    name,
    shape,
    layer: 0,
    group: "mlp_in",
    layout: axis === 1 ? "in_out" : "out_in",
  };
  const units = axis === 1 ? shape[1] : shape[0];
  return {
    info,
    bias: bias
      ? { name: `${name}.bias`, shape: [units], layer: 0, group: "mlp_in", layout: "vector" }
      : null,
    axis,
    unitScores: Float32Array.from({ length: units }, (_, u) => u + 1),
  };
}

function change(name: string, shape: readonly number[], entries: Iterable<number>): TensorChange {
  const indices = Uint32Array.from(new Set(entries)).sort();
  return {
    name,
    shape,
    indices,
    before: new Float32Array(indices.length),
    after: new Float32Array(indices.length).fill(1),
  };
}

Deno.test("heldUnits reads exactly the units with a changed entry or bias entry", () => {
  const arb = fc.record({
    rows: fc.integer({ min: 1, max: 9 }),
    cols: fc.integer({ min: 1, max: 9 }),
    axis: fc.constantFrom(0 as const, 1 as const),
    bias: fc.boolean(),
    picks: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { maxLength: 12 }),
    edits: fc.integer({ min: 1, max: 3 }),
  });
  fc.assert(fc.property(arb, ({ rows, cols, axis, bias, picks, edits }) => {
    const st = scored("w", [rows, cols], axis, bias);
    const units = st.unitScores.length;
    const expected = new Set<number>();
    // Each pick marks one unit, by one of its weight entries or (with a bias) its bias entry,
    // spread over several edits; an unscored tensor's changes mark nothing.
    const prior: TensorChange[][] = Array.from({ length: edits }, () => []);
    picks.forEach(([u0, k, viaBias], i) => {
      const u = u0 % units;
      expected.add(u);
      const edit = prior[i % edits];
      if (viaBias && bias) edit.push(change("w.bias", [units], [u]));
      else {
        const entries = unitEntries(st.info, u, axis);
        edit.push(change("w", st.info.shape, [entries[k % entries.length]]));
      }
      edit.push(change("other", [4], [i % 4]));
    });
    const [held] = heldUnits([st], prior);
    assert(
      held.size === expected.size && [...expected].every((u) => held.has(u)),
      `held ${[...held]} != ${[...expected]}`,
    );
  }));
});

Deno.test("spareHeldUnits scales the held units' scores only and leaves the input unchanged", () => {
  const a = scored("a", [3, 5], 1, true);
  const b = scored("b", [4, 2], 0, false);
  const attr: Attribution = { tensors: [a, b], targetProb: 0.1, seconds: 0 };
  const spared = spareHeldUnits(attr, [new Set([0, 3]), new Set()], 0.75);
  assert(spared.tensors[1] === b, "a tensor without held units is passed through");
  const want = [0.25, 2, 3, 1, 5];
  assert(
    spared.tensors[0].unitScores.every((s, u) => s === want[u]),
    `scores ${[...spared.tensors[0].unitScores]}`,
  );
  assert(a.unitScores.every((s, u) => s === u + 1), "the input attribution was modified");
});

Deno.test("with spareHeld 1 the held units a selection must take are its best-attributed", () => {
  // Each unit its own candidate; scores distinct. The ensemble takes the unheld units first and
  // then, when they are too few, held units by their score before sparing (not by index).
  const arb = fc.record({
    scores: fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 2, maxLength: 24 }),
    heldMask: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    topP: fc.double({ min: 0.01, max: 1, noNaN: true }),
  });
  fc.assert(fc.property(arb, ({ scores, heldMask, topP }) => {
    const st = scored("w", [1, scores.length], 1, false);
    st.unitScores = Float32Array.from(scores);
    const attr: Attribution = { tensors: [st], targetProb: 0.1, seconds: 0 };
    const held = new Set(scores.map((_, u) => u).filter((u) => heldMask[u]));
    const hp = { topP, selection: "global" as const, perLayerK: 1 };
    const ensemble = selectEnsemble(spareHeldUnits(attr, [held], 1), hp);
    const rank = (us: number[]) => us.sort((a, b) => scores[b] - scores[a]);
    const order = [
      ...rank(scores.map((_, u) => u).filter((u) => !held.has(u))),
      ...rank([...held]),
    ];
    const want = order.slice(0, keptUnits(scores.length, 1, hp)).sort((a, b) => a - b);
    const got = ensemble.tensors[0].units;
    assert(
      got.length === want.length && got.every((u, i) => u === want[i]),
      `kept ${got}, want ${want}`,
    );
  }));
});

/** Every (tensor, unit) an edit's changes touch, as "name/unit". */
function touched(tensors: readonly ScoredTensor[], changes: readonly TensorChange[]): Set<string> {
  const held = heldUnits(tensors, [changes]);
  return new Set(tensors.flatMap((st, t) => [...held[t]].map((u) => `${st.info.name}/${u}`)));
}

Deno.test({
  name: "with spareHeld 1 a second edit's ensemble avoids every unit the first changed [wasm]",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const be = await getBackend("wasm");
    for (const spare of [0, 1]) {
      await withModel(be, async (m) => {
        const t1 = target(m, "The capital of France is", "Rome");
        const t2 = target(m, "The capital of Japan is", "Rome");
        const r1 = await kneEdit(m.model, [t1.row], TINY_HP);
        const hp = { ...TINY_HP, spareHeld: spare };
        const r2 = await kneEdit(m.model, [t2.row], hp, [], undefined, 1, [r1.changes]);
        assert(!r1.rolledBack && !r2.rolledBack, "an edit diverged");
        const first = touched(r1.attribution.tensors, r1.changes);
        const shared = [...touched(r2.attribution.tensors, r2.changes)].filter((u) => first.has(u));
        // Without sparing, two edits to the same answer share units; with it, none.
        if (spare === 0) assert(shared.length > 0, "the two edits share no unit even unspared");
        else assert(shared.length === 0, `the second edit rewrote ${shared.length} held units`);
      });
    }
  },
});
