// The knowledge neuronal ensemble: the output units selected from the attribution, either by one
// global top-p threshold across all layers or by the top k of each layer. Serialisable to JSON
// for inspection (OUT/ensemble.json).

import type { Attribution } from "./attribution.ts";
import type { KneHparams } from "./hparams.ts";
import type { UnitSelection } from "../edit/snapshot.ts";

export interface EnsembleTensor {
  /** HF weight name. */
  name: string;
  /** HF bias name whose entries belong to the same units, if any. */
  bias: string | null;
  layer: number;
  group: string;
  layout: "in_out" | "out_in";
  shape: readonly number[];
  /** Selected unit indices, ascending. */
  units: number[];
  /** Their scores, in the same order. */
  scores: number[];
}

export interface Ensemble {
  tensors: EnsembleTensor[];
  /** Units considered and kept, over all layers. */
  totalUnits: number;
  selectedUnits: number;
  /** Lowest kept score (the global threshold, for selection = global). */
  threshold: number;
  /** Kept units per layer. */
  perLayer: Record<string, number>;
}

/**
 * How many units selectEnsemble keeps out of `totalUnits` in `layers` layers: the top-p fraction
 * (at least one), or up to perLayerK in each layer.
 */
export function keptUnits(
  totalUnits: number,
  layers: number,
  hp: Pick<KneHparams, "topP" | "selection" | "perLayerK">,
): number {
  return hp.selection === "global"
    ? Math.min(totalUnits, Math.max(1, Math.ceil(hp.topP * totalUnits)))
    : Math.min(totalUnits, hp.perLayerK * layers);
}

export function selectEnsemble(
  attr: Attribution,
  hp: Pick<KneHparams, "topP" | "selection" | "perLayerK">,
): Ensemble {
  type Cand = { t: number; u: number; s: number };
  const cands: Cand[] = [];
  attr.tensors.forEach((st, t) => st.unitScores.forEach((s, u) => cands.push({ t, u, s })));
  const byScore = (a: Cand, b: Cand) => b.s - a.s || a.t - b.t || a.u - b.u;
  let kept: Cand[];
  if (hp.selection === "global") {
    const k = keptUnits(cands.length, 0, hp);
    kept = cands.sort(byScore).slice(0, k);
  } else {
    const layers = new Map<number, Cand[]>();
    for (const c of cands) {
      const l = attr.tensors[c.t].info.layer;
      if (!layers.has(l)) layers.set(l, []);
      layers.get(l)!.push(c);
    }
    kept = [...layers.values()].flatMap((cs) => cs.sort(byScore).slice(0, hp.perLayerK));
  }
  const tensors = new Map<number, EnsembleTensor>();
  for (const c of kept.sort((a, b) => a.t - b.t || a.u - b.u)) {
    const st = attr.tensors[c.t];
    let e = tensors.get(c.t);
    if (!e) {
      e = {
        name: st.info.name,
        bias: st.bias?.name ?? null,
        layer: st.info.layer,
        group: st.info.group,
        layout: st.info.layout as "in_out" | "out_in",
        shape: st.info.shape,
        units: [],
        scores: [],
      };
      tensors.set(c.t, e);
    }
    e.units.push(c.u);
    e.scores.push(c.s);
  }
  const perLayer: Record<string, number> = {};
  for (const e of tensors.values()) perLayer[e.layer] = (perLayer[e.layer] ?? 0) + e.units.length;
  return {
    tensors: [...tensors.values()],
    totalUnits: cands.length,
    selectedUnits: kept.length,
    threshold: Math.min(...kept.map((c) => c.s)),
    perLayer,
  };
}

/**
 * Every tensor the ensemble covers with its units: columns of an [in, out] weight, rows of an
 * [out, in] weight, and the same entries of its bias (a bias is one row).
 */
export function ensembleSelections(e: Ensemble): UnitSelection[] {
  return e.tensors.flatMap((t) => {
    const weight: UnitSelection = {
      name: t.name,
      units: t.units,
      axis: t.layout === "in_out" ? 1 : 0,
    };
    return t.bias ? [weight, { name: t.bias, units: t.units, axis: 1 as const }] : [weight];
  });
}

/** Parameter entries (weights and biases) the ensemble covers. */
export function ensembleParamCount(e: Ensemble): number {
  let n = 0;
  for (const t of e.tensors) {
    const size = t.layout === "in_out" ? t.shape[0] : t.shape[1];
    n += t.units.length * (size + (t.bias ? 1 : 0));
  }
  return n;
}
