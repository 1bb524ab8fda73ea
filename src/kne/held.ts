// Units that earlier edits of a sequence hold (KNE's spareHeld): the scored tensors' units with
// an entry any earlier edit changed, read from the changes' flat indices, and the attribution
// with those units' scores scaled down before the ensemble is selected, so that a new edit
// prefers units no earlier fact was written into.

import type { TensorChange } from "../io/patch.ts";
import type { Attribution, ScoredTensor } from "./attribution.ts";

/** For each scored tensor (same order), the units with an entry that a prior change touched. */
export function heldUnits(
  tensors: readonly ScoredTensor[],
  prior: readonly (readonly TensorChange[])[],
): Set<number>[] {
  const held = tensors.map(() => new Set<number>());
  // A weight entry's unit is its column (axis 1) or row (axis 0); a bias entry is its unit.
  const unitOf = new Map<string, { t: number; of: (idx: number) => number }>();
  tensors.forEach((st, t) => {
    const cols = st.info.shape[1];
    unitOf.set(st.info.name, { t, of: st.axis === 1 ? (i) => i % cols : (i) => (i / cols) | 0 });
    if (st.bias) unitOf.set(st.bias.name, { t, of: (i) => i });
  });
  for (const changes of prior) {
    for (const c of changes) {
      const u = unitOf.get(c.name);
      if (u) { for (const idx of c.indices) held[u.t].add(u.of(idx)); }
    }
  }
  return held;
}

/**
 * `attr` with the scores of `held` units multiplied by 1 - spare (the others unchanged), keeping
 * the scores before as `unsparedScores`, so that held units the selection still has to take (when
 * too few unheld ones are left) are the best-attributed of them.
 */
export function spareHeldUnits(
  attr: Attribution,
  held: readonly Set<number>[],
  spare: number,
): Attribution {
  return {
    ...attr,
    tensors: attr.tensors.map((st, t) => {
      if (held[t].size === 0) return st;
      const unitScores = st.unitScores.slice();
      for (const u of held[t]) unitScores[u] *= 1 - spare;
      return { ...st, unitScores, unsparedScores: st.unsparedScores ?? st.unitScores };
    }),
  };
}
