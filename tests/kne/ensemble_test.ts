// The dynamic ensemble's bookkeeping: the union of two rounds' ensembles holds every unit of
// either with its latest score and counts an FFN neuron once; uncoveredSelections hands out each
// (tensor, unit) once over successive rounds, so the rounds' snapshots never overlap.

import fc from "fast-check";
import type { UnitSelection } from "../../src/edit/snapshot.ts";
import {
  type Ensemble,
  type EnsembleTensor,
  uncoveredSelections,
  unionEnsemble,
} from "../../src/kne/ensemble.ts";

const NAMES = ["h.0.mlp.c_fc.weight", "h.0.mlp.c_proj.weight", "h.1.attn.c_attn.weight"];

function tensor(name: string, units: number[], score: number): EnsembleTensor {
  const mlp = name.includes("mlp");
  return {
    name,
    bias: null,
    layer: Number(name.split(".")[1]),
    group: mlp ? (name.includes("c_fc") ? "mlp_in" : "mlp_out") : "attn_qkv",
    layout: "in_out",
    shape: [8, 8],
    axis: name.includes("c_proj") ? 0 : 1,
    units,
    scores: units.map(() => score),
  };
}

const unitSet = fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { maxLength: 8 })
  .map((u) => u.sort((a, b) => a - b));

/** An ensemble over NAMES; with `neuron` both FFN tensors hold the same units (one neuron). */
const ensemble = (neuron: boolean, score: number) =>
  fc.tuple(unitSet, unitSet, unitSet).map(([fc1, proj, attn]): Ensemble => {
    const units = [fc1, neuron ? fc1 : proj, attn];
    const tensors = NAMES.map((n, i) => tensor(n, units[i], score)).filter((t) => t.units.length);
    return { tensors, totalUnits: 24, selectedUnits: 0, threshold: score, perLayer: {} };
  });

Deno.test("unionEnsemble: every unit of either, latest score, a neuron counted once", () => {
  for (const neuron of [false, true]) {
    fc.assert(fc.property(ensemble(neuron, 1), ensemble(neuron, 2), (a, b) => {
      const u = unionEnsemble(a, b, neuron ? "neuron" : "projection");
      const units = (e: Ensemble, n: string) => e.tensors.find((t) => t.name === n)?.units ?? [];
      let distinct = 0;
      for (const n of NAMES) {
        const want = [...new Set([...units(a, n), ...units(b, n)])].sort((x, y) => x - y);
        const got = u.tensors.find((t) => t.name === n);
        if ((got?.units ?? []).join() !== want.join()) return false;
        for (const [i, unit] of (got?.units ?? []).entries()) {
          if (got!.scores[i] !== (units(b, n).includes(unit) ? 2 : 1)) return false;
        }
        if (!(neuron && n.includes("c_proj"))) distinct += want.length;
      }
      const perLayer = Object.values(u.perLayer).reduce((x, y) => x + y, 0);
      return u.selectedUnits === distinct && perLayer === distinct && u.threshold === 1 &&
        u.tensors.every((t, i) => i === 0 || u.tensors[i - 1].layer <= t.layer);
    }));
  }
});

Deno.test("uncoveredSelections: each unit of a tensor handed out once over the rounds", () => {
  const selection = fc.tuple(fc.constantFrom(...NAMES), unitSet)
    .map(([name, units]): UnitSelection => ({ name, units, axis: 1 }));
  fc.assert(fc.property(fc.array(fc.array(selection, { maxLength: 3 }), { maxLength: 4 }), (rs) => {
    const covered = new Map<string, Set<number>>();
    const handed = new Map<string, number[]>();
    for (const round of rs) {
      for (const s of uncoveredSelections(round, covered)) {
        if (s.units.length === 0) return false;
        handed.set(s.name, [...(handed.get(s.name) ?? []), ...s.units]);
      }
    }
    for (const n of NAMES) {
      const want = new Set(rs.flat().filter((s) => s.name === n).flatMap((s) => s.units));
      const got = handed.get(n) ?? [];
      if (got.length !== want.size || got.some((u) => !want.has(u))) return false;
    }
    return true;
  }));
});
