// The knowledge neuronal ensemble: the units selected from the attribution, either by one global
// top-p threshold across all layers or by the top k of each layer. A unit is one scored tensor's
// unit, or with ffnUnit "neuron" one FFN neuron: unit j of every FFN tensor of a layer (the input
// projections' output j and the output projection's input j), scored as the sum of theirs and
// selected together. Serialisable to JSON for inspection (OUT/ensemble.json).

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
  /** The units' axis in the weight as a matrix: 1 = columns, 0 = rows. */
  axis: 0 | 1;
  /** Selected unit indices, ascending. */
  units: number[];
  /** Their scores (a neuron's: the whole neuron's), in the same order. */
  scores: number[];
}

export interface Ensemble {
  tensors: EnsembleTensor[];
  /** Units considered and kept, over all layers. */
  totalUnits: number;
  selectedUnits: number;
  /** Lowest kept score (the global threshold, for selection = global). */
  threshold: number;
  /** Kept units per layer (they sum to selectedUnits). */
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
  hp: Pick<KneHparams, "topP" | "selection" | "perLayerK"> & Partial<Pick<KneHparams, "ffnUnit">>,
): Ensemble {
  // A candidate: its score, its layer, and the (tensor, unit) pairs it selects.
  // `raw`: its score before spareHeld scaled it, which breaks ties of `s`.
  type Cand = { s: number; raw: number; layer: number; members: { t: number; u: number }[] };
  const cands: Cand[] = [];
  // ffnUnit "neuron": one candidate per FFN neuron of a layer, over all its FFN tensors.
  const neurons = new Map<number, Cand[]>();
  attr.tensors.forEach((st, t) => {
    const layer = st.info.layer;
    const raw = st.unsparedScores ?? st.unitScores;
    if (hp.ffnUnit === "neuron" && st.info.group.startsWith("mlp_")) {
      if (!neurons.has(layer)) neurons.set(layer, []);
      const list = neurons.get(layer)!;
      st.unitScores.forEach((s, u) => {
        if (!list[u]) list[u] = { s: 0, raw: 0, layer, members: [] };
        list[u].s += s;
        list[u].raw += raw[u];
        list[u].members.push({ t, u });
      });
    } else {
      st.unitScores.forEach((s, u) => cands.push({ s, raw: raw[u], layer, members: [{ t, u }] }));
    }
  });
  for (const list of neurons.values()) cands.push(...list);
  const first = (c: Cand) => c.members[0];
  const byScore = (a: Cand, b: Cand) =>
    b.s - a.s || b.raw - a.raw || first(a).t - first(b).t || first(a).u - first(b).u;
  let kept: Cand[];
  if (hp.selection === "global") {
    const k = keptUnits(cands.length, 0, hp);
    kept = cands.sort(byScore).slice(0, k);
  } else {
    const layers = new Map<number, Cand[]>();
    for (const c of cands) {
      if (!layers.has(c.layer)) layers.set(c.layer, []);
      layers.get(c.layer)!.push(c);
    }
    kept = [...layers.values()].flatMap((cs) => cs.sort(byScore).slice(0, hp.perLayerK));
  }
  const picked = kept.flatMap((c) => c.members.map(({ t, u }) => ({ t, u, s: c.s })));
  const tensors = new Map<number, EnsembleTensor>();
  for (const c of picked.sort((a, b) => a.t - b.t || a.u - b.u)) {
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
        axis: st.axis,
        units: [],
        scores: [],
      };
      tensors.set(c.t, e);
    }
    e.units.push(c.u);
    e.scores.push(c.s);
  }
  // Units, as selectedUnits counts them: a neuron held by two tensors is one.
  const perLayer: Record<string, number> = {};
  for (const c of kept) perLayer[c.layer] = (perLayer[c.layer] ?? 0) + 1;
  return {
    tensors: [...tensors.values()],
    totalUnits: cands.length,
    selectedUnits: kept.length,
    threshold: Math.min(...kept.map((c) => c.s)),
    perLayer,
  };
}

/**
 * Every tensor the ensemble covers with its units (columns or rows of the weight, as its axis
 * says) and the same entries of its bias (a bias is one row).
 */
export function ensembleSelections(e: Ensemble): UnitSelection[] {
  return e.tensors.flatMap((t) => {
    const weight: UnitSelection = { name: t.name, units: t.units, axis: t.axis };
    return t.bias ? [weight, { name: t.bias, units: t.units, axis: 1 as const }] : [weight];
  });
}

/** Parameter entries (weights and biases) the ensemble covers. */
export function ensembleParamCount(e: Ensemble): number {
  let n = 0;
  for (const t of e.tensors) {
    const size = t.axis === 1 ? t.shape[0] : t.shape[1];
    n += t.units.length * (size + (t.bias ? 1 : 0));
  }
  return n;
}

/**
 * The ensembles of successive rounds (a dynamic ensemble, reattributeEvery) as one: every unit
 * selected in either, with its latest score. A unit is counted once (with ffnUnit "neuron" one
 * FFN neuron of a layer, however many tensors hold it).
 */
export function unionEnsemble(
  a: Ensemble,
  b: Ensemble,
  ffnUnit: KneHparams["ffnUnit"] = "projection",
): Ensemble {
  const byName = new Map<string, EnsembleTensor>();
  for (const t of [...a.tensors, ...b.tensors]) {
    const prev = byName.get(t.name);
    const scores = new Map(prev ? prev.units.map((u, i) => [u, prev.scores[i]]) : []);
    t.units.forEach((u, i) => scores.set(u, t.scores[i]));
    const units = [...scores.keys()].sort((x, y) => x - y);
    byName.set(t.name, { ...(prev ?? t), units, scores: units.map((u) => scores.get(u)!) });
  }
  // By layer; within one, first-seen order (the sort is stable).
  const tensors = [...byName.values()].sort((x, y) => x.layer - y.layer);
  const distinct = new Set<string>();
  const perLayer: Record<string, number> = {};
  for (const t of tensors) {
    const neuron = ffnUnit === "neuron" && t.group.startsWith("mlp_");
    for (const u of t.units) {
      const key = neuron ? `${t.layer}/mlp/${u}` : `${t.name}/${u}`;
      if (!distinct.has(key)) perLayer[t.layer] = (perLayer[t.layer] ?? 0) + 1;
      distinct.add(key);
    }
  }
  return {
    tensors,
    totalUnits: a.totalUnits,
    selectedUnits: distinct.size,
    threshold: Math.min(a.threshold, b.threshold),
    perLayer,
  };
}

/** The selections' units not in `covered` (name -> units), which it then records as covered. */
export function uncoveredSelections(
  selections: readonly UnitSelection[],
  covered: Map<string, Set<number>>,
): UnitSelection[] {
  const out: UnitSelection[] = [];
  for (const sel of selections) {
    let seen = covered.get(sel.name);
    if (!seen) covered.set(sel.name, seen = new Set());
    const units = sel.units.filter((u) => !seen!.has(u));
    for (const u of units) seen.add(u);
    if (units.length > 0) out.push({ name: sel.name, units, axis: sel.axis });
  }
  return out;
}
