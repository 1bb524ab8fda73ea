// KNE attribution: integrated gradients of the teacher-forced target probability with respect to
// every projection weight of every layer (attention and FFN), Attr(w) = w * mean_s dP(alpha_s W)/dw
// with alpha_s = s/m. All scored weights move together along the path (one forward and backward
// per step, not one per layer; the planner may split the layers into chunks that each get their
// own pass, to bound gradient memory), by scaling the projections' outputs, not the weights.
// Unit scores aggregate each output neuron's parameters (a column of an [in, out] weight, a row
// of an [out, in] weight, plus its bias entry). With ffnUnit "neuron" the FFN's output projection
// is scored by its input units instead (a row of GPT-2's [dFF, d] c_proj, a column of Llama's
// [d, dFF] down_proj: the value vector of one FFN neuron, whose key is the matching unit of the
// input projections), so that the ensemble can select whole FFN neurons (src/kne/ensemble.ts).

import { BackendError } from "../../engine/backend.ts";
import * as A from "../autograd/ops.ts";
import { backward, type Var } from "../autograd/variable.ts";
import type { CausalLM, LayerStart, ParamInfo } from "../model/lm.ts";
import { axpy, scale } from "../tensor/ops.ts";
import { keep, Tensor, tidyAsync } from "../tensor/tensor.ts";
import type { TeacherForced } from "../edit/request.ts";
import { padBatch, targetRows } from "../edit/request.ts";
import type { KneHparams } from "./hparams.ts";

export interface ScoredTensor {
  info: ParamInfo;
  /** The bias holding one entry per unit of this weight, if the architecture has one. */
  bias: ParamInfo | null;
  /** The weight's unit axis as a matrix: 1 = its columns are the units, 0 = its rows. */
  axis: 0 | 1;
  /**
   * One score per output unit, from its parameters' attributions (which are not kept: they
   * would cost 4 bytes per scored parameter on the host).
   */
  unitScores: Float32Array;
  /**
   * The scores before spareHeld scaled them (./held.ts), where it did: units whose scaled scores
   * tie (every held unit at spareHeld 1) are ranked by these, not by their index.
   */
  unsparedScores?: Float32Array;
}

export interface Attribution {
  tensors: ScoredTensor[];
  /** Mean teacher-forced probability of the target tokens before editing. */
  targetProb: number;
  seconds: number;
}

/** The output-unit axis of a weight: columns of an [in, out] weight, rows of an [out, in] one. */
export function outputAxis(info: ParamInfo): 0 | 1 {
  return info.layout === "in_out" ? 1 : 0;
}

/** Number of units of a weight along `axis` (default: its outputs) and the entries of each. */
export function unitShape(
  info: ParamInfo,
  axis: 0 | 1 = outputAxis(info),
): { units: number; size: number } {
  const [r, c] = info.shape;
  return axis === 1 ? { units: c, size: r } : { units: r, size: c };
}

/** Entry indices of unit u of a weight along `axis` (default: its outputs). */
export function unitEntries(info: ParamInfo, u: number, axis = outputAxis(info)): number[] {
  const [r, c] = info.shape;
  return axis === 1
    ? Array.from({ length: r }, (_, i) => i * c + u)
    : Array.from({ length: c }, (_, j) => u * c + j);
}

/** A scored weight: its bias partner (one entry per unit) and its unit axis. */
export interface ScoredParam {
  info: ParamInfo;
  bias: ParamInfo | null;
  axis: 0 | 1;
}

/**
 * The projection weights KNE scores, each with its bias partner: every layer's (groups "all"),
 * or only the FFN's ("mlp", groups mlp_*) or the attention's ("attn", groups attn_*). With
 * ffnUnit "neuron" the FFN output projection's units are its inputs (the FFN neurons), and its
 * bias, one entry per output, belongs to no unit. Layers below `fromLayer` are not scored.
 */
export function scoredParams(
  model: Pick<CausalLM, "paramInfo">,
  groups: KneHparams["scoredGroups"] = "all",
  ffnUnit: KneHparams["ffnUnit"] = "projection",
  fromLayer = 0,
): ScoredParam[] {
  const byName = new Map(model.paramInfo.map((p) => [p.name, p]));
  return model.paramInfo
    .filter((p) => p.layer >= fromLayer && (p.layout === "in_out" || p.layout === "out_in"))
    .filter((p) => groups === "all" || p.group.startsWith(`${groups}_`))
    .map((info) => {
      const byInput = ffnUnit === "neuron" && info.group === "mlp_out";
      return {
        info,
        bias: byInput ? null : byName.get(info.name.replace(/\.weight$/, ".bias")) ?? null,
        axis: byInput ? (1 - outputAxis(info)) as 0 | 1 : outputAxis(info),
      };
    });
}

/**
 * Adds each unit's |attr| (or attr, for "sum") into `out` in float64, with the f32
 * attribution attr[i] = (w[i] * g[i]) / steps, a unit's entries in ascending index order.
 * `shape` null: a bias, entry u is unit u; else a matrix whose units lie along `axis`. One pass
 * over the data with no per-element division or modulo for the unit index: the scored tensors
 * hold 85M entries for GPT-2 small, and this runs on the host.
 */
function addUnitScores(
  shape: readonly number[] | null,
  axis: 0 | 1,
  w: Float32Array,
  g: Float32Array,
  steps: number,
  how: KneHparams["unitScore"],
  out: Float64Array,
): void {
  const abs = how !== "sum";
  const [r, c] = shape ?? [1, w.length];
  if (shape === null || axis === 1) {
    // Unit j is column j: each row adds one entry to every unit.
    for (let base = 0; base < r * c; base += c) {
      for (let j = 0; j < c; j++) {
        const a = Math.fround((w[base + j] * g[base + j]) / steps);
        out[j] += abs ? Math.abs(a) : a;
      }
    }
  } else {
    // Unit i is row i: its entries are contiguous.
    for (let i = 0, base = 0; i < r; i++, base += c) {
      let acc = out[i];
      for (let j = base; j < base + c; j++) {
        const a = Math.fround((w[j] * g[j]) / steps);
        acc += abs ? Math.abs(a) : a;
      }
      out[i] = acc;
    }
  }
}

/**
 * The per-row cross-entropy of `targets` at positions `rows` of token ids [batch, t], the head
 * run at those rows only: what attribution (seeded with -P) and the update (averaged)
 * differentiate, and what the memory plan measures their backward on. With `start` the forward
 * begins at that layer (CausalLM.forward).
 */
export function targetCrossEntropy(
  model: CausalLM,
  ids: Tensor,
  rows: Tensor,
  targets: Tensor,
  start?: LayerStart,
): Var {
  return A.crossEntropyRows(model.forward(ids, undefined, undefined, rows, start), targets);
}

/**
 * Gradients of sum_j P(y*_j | x, y*_<j) at the model's current projection scale, handed to the
 * scored params' gradient sinks.
 * Returns the mean target probability at this alpha.
 */
async function probabilityGradient(
  model: CausalLM,
  rows: readonly TeacherForced[],
): Promise<number> {
  const { ids, targets, t } = padBatch(rows);
  const read = targetRows(targets);
  return await tidyAsync(async () => {
    const be = model.backend;
    const ce = targetCrossEntropy(
      model,
      Tensor.fromArray(be, ids, [rows.length, t]),
      Tensor.fromArray(be, read.rows, [read.rows.length]),
      Tensor.fromArray(be, read.targets, [read.rows.length]),
    );
    const loss = await ce.value.toArray();
    // dP/dlogits = -P * dCE/dlogits on each target row: seed the per-row CE with -P.
    const seed = loss.map((l) => -Math.exp(-l));
    backward(ce, Tensor.fromArray(be, seed, [seed.length]));
    return loss.reduce((a, l) => a + Math.exp(-l), 0) / Math.max(loss.length, 1);
  });
}

/**
 * The scored params split into `chunks` groups of consecutive layers (as even as possible, at
 * most one per layer): attribution differentiates one group at a time.
 */
export function layerChunks<T extends { info: ParamInfo }>(
  scored: readonly T[],
  chunks: number,
): T[][] {
  const layers = [...new Set(scored.map((s) => s.info.layer))].sort((a, b) => a - b);
  const n = Math.max(1, Math.min(Math.floor(chunks), layers.length));
  const per = Math.ceil(layers.length / n);
  const groups: T[][] = [];
  for (let i = 0; i < layers.length; i += per) {
    const inGroup = new Set(layers.slice(i, i + per));
    groups.push(scored.filter((s) => inGroup.has(s.info.layer)));
  }
  return groups.length > 0 ? groups : [[...scored]];
}

/**
 * Scores every projection weight for the edit targets `rows`. Leaves the model unchanged.
 * The path alpha·W is walked through CausalLM.projectionScale (every scored projection's output
 * times alpha), so the weights are never copied or rescaled: a step's gradient reaching W is
 * alpha times the gradient at alpha·W, and a gradient sink sums it divided by alpha into one f32
 * tensor per scored weight and bias (the dense gradient is freed as soon as it is summed).
 * With `chunks` > 1 the layers are scored in that many groups, each with its own integrated-
 * gradient pass (every scored projection still moves along the path; only the group's
 * gradients are kept), so gradient memory drops to one group's at the cost of `chunks` times
 * the passes. The scores are bit-identical to one pass: each weight's gradient comes from the
 * same kernels on the same values.
 */
export async function attribute(
  model: CausalLM,
  rows: readonly TeacherForced[],
  hp:
    & Pick<KneHparams, "igSteps" | "unitScore">
    & Partial<Pick<KneHparams, "scoredGroups" | "ffnUnit" | "fromLayer">>,
  onStep?: (step: number, of: number) => void,
  chunks = 1,
): Promise<Attribution> {
  const t0 = performance.now();
  const nLayers = model.config.nLayers;
  if ((hp.fromLayer ?? 0) >= nLayers) {
    throw new BackendError(
      `kne: fromLayer ${hp.fromLayer} leaves no layer to score (the model has ${nLayers})`,
    );
  }
  const scored = scoredParams(model, hp.scoredGroups, hp.ffnUnit, hp.fromLayer);
  const varsOf = (list: typeof scored): Var[] =>
    list.flatMap(({ info, bias }) =>
      bias ? [model.params.get(info.name)!, model.params.get(bias.name)!] : [
        model.params.get(info.name)!,
      ]
    );
  const frozen = [...model.params.values()].map((p) => [p, p.requiresGrad] as const);
  for (const [p] of frozen) {
    p.zeroGrad();
    p.requiresGrad = false;
  }
  const groups = layerChunks(scored, chunks);
  const passes = groups.length * hp.igSteps;
  let targetProb = 0;
  const tensors: ScoredTensor[] = [];
  // Per scored tensor of the current group: sum over the steps so far of dP/dW at alpha·W.
  const sums = new Map<Var, Tensor>();
  // Reads a weight and its summed gradient once each and scores its units in one pass.
  const scoreUnits = async (
    v: Var,
    shape: readonly number[] | null,
    axis: 0 | 1,
    out: Float64Array,
  ) => {
    const w = await v.value.toArray();
    const sum = sums.get(v);
    // No gradient reached the tensor: it reads as 0 (so -w * 0 stays -0).
    const g = sum ? await sum.toArray() : new Float32Array(w.length);
    addUnitScores(shape, axis, w, g, hp.igSteps, hp.unitScore, out);
  };
  try {
    for (const [gi, group] of groups.entries()) {
      const vars = varsOf(group);
      let inverseAlpha = 1;
      for (const v of vars) {
        v.requiresGrad = true;
        v.gradSink = (g) => {
          const sum = sums.get(v);
          if (sum) axpy(sum, g, inverseAlpha);
          else sums.set(v, keep(scale(g, inverseAlpha)));
        };
      }
      for (let s = 1; s <= hp.igSteps; s++) {
        model.projectionScale = s / hp.igSteps;
        inverseAlpha = hp.igSteps / s;
        const p = await probabilityGradient(model, rows);
        if (s === hp.igSteps) targetProb = p;
        onStep?.(gi * hp.igSteps + s, passes);
      }
      model.projectionScale = 1;
      for (const v of vars) {
        v.requiresGrad = false;
        v.gradSink = null;
      }
      for (const { info, bias, axis } of group) {
        const { units, size } = unitShape(info, axis);
        const unitSums = new Float64Array(units);
        await scoreUnits(model.params.get(info.name)!, info.shape, axis, unitSums);
        if (bias) await scoreUnits(model.params.get(bias.name)!, null, 1, unitSums);
        const n = size + (bias ? 1 : 0);
        tensors.push({
          info,
          bias,
          axis,
          unitScores: Float32Array.from(unitSums, (x) => (hp.unitScore === "mean_abs" ? x / n : x)),
        });
      }
      for (const sum of sums.values()) sum.free();
      sums.clear();
    }
  } finally {
    model.projectionScale = 1;
    for (const sum of sums.values()) sum.free();
    for (const v of varsOf(scored)) v.gradSink = null;
    for (const [p, r] of frozen) p.requiresGrad = r;
  }
  // In the scored order whatever the grouping (selection breaks ties by position).
  const order = new Map(scored.map((s, i) => [s.info.name, i]));
  tensors.sort((a, b) => order.get(a.info.name)! - order.get(b.info.name)!);
  return { tensors, targetProb, seconds: (performance.now() - t0) / 1000 };
}
