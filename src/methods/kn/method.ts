// KN (Dai et al. 2022): knowledge-neuron attribution by integrated gradients over the FFN
// intermediate activations ("mlp_key") of every layer at the last prompt position, for the
// target's first token, then the "edit" operation on the selected neurons' value vectors.
//
// Attribution of neuron i of layer l: Attr_i = a_i / m * sum_{s=1..m} dP(y* | x; a_i <- (s/m) a_i)
// / d((s/m) a_i), with the whole layer's activation vector at that position scaled together
// (as the paper's implementation does): one forward/backward per layer over a batch of the m
// scaled copies. The scaling is a multiplication by a mask leaf; its gradient is exactly
// a_i * dP/d(scaled a_i), so reading it back gives the integrand with the model frozen.
// Neurons scoring at least `threshold` x the largest score (over all layers) are kept.
//
// Edit: each kept neuron's value vector (row i of GPT-2's mlp.c_proj [dFF, d], column i of
// Llama's mlp.down_proj [d, dFF]) gets lambda * (E[target] - E[original prediction]), E the
// output embedding (the LM head, the token embedding when tied), as in the knowledge-neurons
// package's edit mode (lambda = 2). Several targets (batch mode) are all attributed on the
// unedited model, then edited together.

import * as A from "../../autograd/ops.ts";
import { backward, param } from "../../autograd/variable.ts";
import type { EditContext, EditMethod, EditTarget, MethodResult } from "../../edit/method.ts";
import type { CausalLM, ParamInfo } from "../../model/lm.ts";
import { Tensor, tidyAsync } from "../../tensor/tensor.ts";
import { nextArgmax } from "../capture.ts";
import { freezeAllBut, snapshotEdit } from "../guarded-edit.ts";
import { ffnOutProjection, mathShape, type ProjectionInfo, storageIndex } from "../projection.ts";
import { KN_DEFAULTS, KN_SCHEMA, type KnHparams } from "./hparams.ts";

export interface Neuron {
  layer: number;
  unit: number;
  score: number;
}

export interface KnAttribution {
  /** Scores per layer, one per FFN neuron. */
  scores: Float64Array[];
  maxScore: number;
  /** Selected neurons, best first. */
  neurons: Neuron[];
  /** P(target's first token | prompt) before editing. */
  targetProb: number;
}

/** Integrated-gradient scores of every neuron of one layer at the last prompt position. */
export async function layerScores(
  model: CausalLM,
  promptIds: readonly number[],
  target: number,
  layer: number,
  steps: number,
): Promise<{ scores: Float64Array; prob: number }> {
  const be = model.backend;
  const t = promptIds.length, pos = t - 1, m = steps;
  const width = model.config.dFF;
  return await tidyAsync(async () => {
    const ids: number[] = [];
    for (let s = 0; s < m; s++) ids.push(...promptIds);
    const targets = new Float32Array(m * t).fill(-1);
    const maskData = new Float32Array(m * t * width).fill(1);
    for (let s = 0; s < m; s++) {
      targets[s * t + pos] = target;
      maskData.fill((s + 1) / m, (s * t + pos) * width, (s * t + pos + 1) * width);
    }
    const mask = param(Tensor.fromArray(be, maskData, [m * t, width]));
    try {
      const logits = model.forward(
        Tensor.fromArray(be, ids, [m, t]),
        (l, site, x) => (l === layer && site === "mlp_key" ? A.mul(x, mask) : undefined),
      );
      const ce = A.crossEntropyRows(logits, Tensor.fromArray(be, targets, [m * t]));
      const loss = await ce.value.toArray();
      // dP/dlogits = -P * dCE/dlogits: seed each scaled copy's CE with -P of that copy.
      const seed = new Float32Array(m * t);
      let prob = 0;
      for (let s = 0; s < m; s++) {
        const p = Math.exp(-loss[s * t + pos]);
        seed[s * t + pos] = -p;
        if (s === m - 1) prob = p;
      }
      backward(ce, Tensor.fromArray(be, seed, [m * t]));
      const g = await mask.grad!.toArray();
      const scores = new Float64Array(width);
      for (let s = 0; s < m; s++) {
        const off = (s * t + pos) * width;
        for (let u = 0; u < width; u++) scores[u] += g[off + u];
      }
      for (let u = 0; u < width; u++) scores[u] /= m;
      return { scores, prob };
    } finally {
      mask.zeroGrad();
    }
  });
}

/** Scores every layer's neurons and keeps those above threshold x max. */
export async function attributeNeurons(
  model: CausalLM,
  promptIds: readonly number[],
  target: number,
  hp: Pick<KnHparams, "igSteps" | "threshold" | "maxNeurons">,
  onLayer?: (layer: number) => void,
): Promise<KnAttribution> {
  const restore = freezeAllBut(model, []);
  const scores: Float64Array[] = [];
  let targetProb = 0;
  try {
    for (let l = 0; l < model.config.nLayers; l++) {
      const r = await layerScores(model, promptIds, target, l, hp.igSteps);
      scores.push(r.scores);
      targetProb = r.prob;
      onLayer?.(l);
    }
  } finally {
    restore();
  }
  let maxScore = -Infinity;
  for (const s of scores) for (const x of s) maxScore = Math.max(maxScore, x);
  const neurons: Neuron[] = [];
  if (maxScore > 0) {
    const cut = hp.threshold * maxScore;
    scores.forEach((s, layer) =>
      s.forEach((score, unit) => {
        if (score >= cut) neurons.push({ layer, unit, score });
      })
    );
  }
  neurons.sort((a, b) => b.score - a.score || a.layer - b.layer || a.unit - b.unit);
  if (hp.maxNeurons > 0) neurons.splice(hp.maxNeurons);
  return { scores, maxScore, neurons, targetProb };
}

/** The output embedding (LM head; the token embedding when tied). */
export function outputEmbedding(model: CausalLM): ParamInfo {
  const v = model.config.vocabSize;
  const head = model.paramInfo.find((p) => p.group === "head" && p.shape[0] === v);
  const embed = model.paramInfo.find((p) => p.group === "embed" && p.shape[0] === v);
  const info = head ?? embed;
  if (!info) throw new Error("kn: the model has no output embedding");
  return info;
}

async function embeddingRow(model: CausalLM, info: ParamInfo, id: number): Promise<Float32Array> {
  const d = info.shape[1];
  return await model.backend.read(model.params.get(info.name)!.value.buffer, id * d, d);
}

interface KnEdit {
  target: EditTarget;
  attribution: KnAttribution;
  original: number;
}

/** Adds lambda * (E[new] - E[old]) to the selected neurons' value vectors, in place. */
export async function editNeurons(
  model: CausalLM,
  edits: readonly { neurons: readonly Neuron[]; newToken: number; oldToken: number }[],
  lambda: number,
): Promise<void> {
  const emb = outputEmbedding(model);
  const byLayer = new Map<number, Float32Array>();
  const infos = new Map<number, ProjectionInfo>();
  for (const e of edits) {
    if (e.newToken === e.oldToken || e.neurons.length === 0) continue;
    const a = await embeddingRow(model, emb, e.newToken);
    const b = await embeddingRow(model, emb, e.oldToken);
    for (const n of e.neurons) {
      let info = infos.get(n.layer);
      if (!info) infos.set(n.layer, info = ffnOutProjection(model, n.layer));
      let w = byLayer.get(n.layer);
      if (!w) byLayer.set(n.layer, w = await model.params.get(info.name)!.value.toArray());
      const [dOut] = mathShape(info);
      for (let o = 0; o < dOut; o++) {
        const k = storageIndex(info, o, n.unit);
        w[k] = w[k] + lambda * (a[o] - b[o]);
      }
    }
  }
  for (const [layer, w] of byLayer) {
    const p = model.params.get(infos.get(layer)!.name)!;
    p.value.backend.upload(p.value.buffer, w);
  }
}

export const knMethod: EditMethod<KnHparams> = {
  name: "kn",
  description: "KN: knowledge neurons by integrated gradients, value vectors edited (Dai et al.)",
  defaults: KN_DEFAULTS,
  schema: KN_SCHEMA,
  weightDtypes: ["f32"],
  usesAnchors: () => false,
  async apply(
    ctx: EditContext,
    targets: readonly EditTarget[],
    hp: KnHparams,
  ): Promise<MethodResult> {
    const model = ctx.model;
    const t0 = performance.now();
    const edits: KnEdit[] = [];
    for (const target of targets) {
      const original = await nextArgmax(model, target.promptIds);
      const attribution = await attributeNeurons(
        model,
        target.promptIds,
        target.targetIds[0],
        hp,
        (l) => ctx.onProgress?.({ phase: "kn attribution", step: l + 1, of: model.config.nLayers }),
      );
      edits.push({ target, attribution, original });
    }
    const t1 = performance.now();
    const layers = [...new Set(edits.flatMap((e) => e.attribution.neurons.map((n) => n.layer)))];
    const names = layers.sort((a, b) => a - b).map((l) => ffnOutProjection(model, l).name);
    const r = await snapshotEdit(model, names, async () => {
      await editNeurons(
        model,
        edits.map((e) => ({
          neurons: e.attribution.neurons,
          newToken: e.target.targetIds[0],
          oldToken: e.original,
        })),
        hp.lambda,
      );
      return {};
    });
    const t2 = performance.now();
    return {
      changes: r.changes,
      rolledBack: r.rolledBack,
      artifacts: {
        kn: edits.map((e) => {
          const perLayer: Record<string, number> = {};
          for (const n of e.attribution.neurons) perLayer[n.layer] = (perLayer[n.layer] ?? 0) + 1;
          return {
            record: e.target.request.index,
            targetToken: e.target.targetIds[0],
            originalToken: e.original,
            edited: e.original !== e.target.targetIds[0] && e.attribution.neurons.length > 0,
            targetProbBefore: e.attribution.targetProb,
            maxScore: e.attribution.maxScore,
            threshold: hp.threshold * e.attribution.maxScore,
            perLayer,
            neurons: e.attribution.neurons,
          };
        }),
      },
      pictures: {},
      timings: { attribution: (t1 - t0) / 1000, edit: (t2 - t1) / 1000 },
    };
  },
};
