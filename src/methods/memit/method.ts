// MEMIT (Meng et al. 2023): ROME's update as a batched least-squares problem spread over several
// FFN layers.
//   1. For each request, the value search (../rome/compute-v.ts) at the LAST edited layer gives
//      delta_i; the target is z*_i = z_i + delta_i, z_i the residual stream after that layer at
//      the subject's last token of the bare prompt.
//   2. For each edited layer l (ascending), on the model as edited so far:
//        K = [k_i]  mean FFN keys at l at the subject's last token (prompt and context prefixes)
//        R = [r_i]  r_i = (z*_i - z_i(current)) / (number of layers left, l included)
//        ΔW = R Kᵀ (w C + K Kᵀ)⁻¹ = R (w I + Kᵀ C⁻¹ K)⁻¹ (C⁻¹ K)ᵀ
//      with C the damped E[k kᵀ] of layer l (../covariance.ts) and w = covWeight * tr(C⁻¹ E[kkᵀ])
//      (the effective key dimension: about dFF for well-sampled statistics). The second
//      form (push-through identity) only solves with C and an m x m matrix, and stays exact at
//      w = 0, where it is ROME's constrained solution: for one request, r uᵀ / (uᵀ k), u = C⁻¹k.
// The residual stream z is the sum of the attention and FFN outputs of layers 0..L (hook sites
// "attn_out" and "mlp_out"); the embeddings cancel in z* - z since edits never touch them. Gemma 2
// and 3 normalise those outputs before adding them: there z is the sum of what the hooks read
// (o_proj's and down_proj's outputs), which the updates move exactly, not the stream itself.

import type { EditContext, EditMethod, EditTarget, MethodResult } from "../../edit/method.ts";
import type { CausalLM } from "../../model/lm.ts";
import { type CaptureRequest, captureRows } from "../capture.ts";
import { snapshotEdit } from "../guarded-edit.ts";
import { earlyMiddleLayer } from "../layer.ts";
import { addMath, ffnOutProjection } from "../projection.ts";
import { dampedFactor, effectiveDim } from "../covariance.ts";
import { cholesky, choleskySolve, dot, LinalgError, norm } from "../linalg.ts";
import { optimiseValue, paddedSet, type RewriteSet, rewriteSet } from "../rome/compute-v.ts";
import { covarianceInfo, keyStatistics, meanRows, phaseClock } from "../rome/key-statistics.ts";
import { MEMIT_DEFAULTS, MEMIT_SCHEMA, type MemitHparams } from "./hparams.ts";

/** The hparam `layers` as sorted layer indices. */
export function memitLayers(spec: string, nLayers: number): number[] {
  if (spec.trim() === "auto") {
    const hi = earlyMiddleLayer(nLayers);
    const lo = Math.max(0, hi - Math.ceil(nLayers / 8));
    return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  }
  const parts = spec.split(",").map((s) => s.trim());
  const layers = parts.map(Number);
  if (
    parts.length === 0 || parts.some((p) => p === "") ||
    layers.some((l) => !Number.isInteger(l) || l < 0 || l >= nLayers)
  ) {
    throw new Error(
      `memit: layers must be "auto" or a comma-separated list of layers in 0..${
        nLayers - 1
      }, got "${spec}"`,
    );
  }
  return [...new Set(layers)].sort((a, b) => a - b);
}

/**
 * MEMIT's closed form ΔW = R (w I + Kᵀ C⁻¹ K)⁻¹ (C⁻¹ K)ᵀ for keys K (m vectors of n), residuals
 * R (m vectors of d) and C given by its Cholesky factor; returns ΔW [d, n] in math layout.
 */
export function memitUpdate(
  factor: Float64Array,
  n: number,
  keys: readonly ArrayLike<number>[],
  resid: readonly ArrayLike<number>[],
  w: number,
): Float64Array {
  const m = keys.length;
  const d = resid[0].length;
  const u = keys.map((k) => choleskySolve(factor, n, k));
  const g = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) g[i * m + j] = dot(keys[i], u[j]) + (i === j ? w : 0);
  }
  let gl: Float64Array;
  try {
    gl = cholesky(g, m);
  } catch (e) {
    if (!(e instanceof LinalgError)) throw e;
    throw new LinalgError(
      "memit: the requests' keys are linearly dependent; raise covWeight above 0",
    );
  }
  // coef[o][j] = sum_i R_i[o] (G⁻¹)_{ij}: solve G a = R[o, :] per output row o.
  const out = new Float64Array(d * n);
  const row = new Float64Array(m);
  for (let o = 0; o < d; o++) {
    for (let i = 0; i < m; i++) row[i] = resid[i][o];
    const a = choleskySolve(gl, m, row);
    for (let j = 0; j < m; j++) {
      const aj = a[j], uj = u[j];
      if (aj === 0) continue;
      for (let b = 0; b < n; b++) out[o * n + b] += aj * uj[b];
    }
  }
  return out;
}

/** Keys at `layer` (mean over the rewriting rows) and the residual stream after `last`. */
async function keysAndResidual(
  model: CausalLM,
  set: RewriteSet,
  layer: number,
  last: number,
): Promise<{ key: Float64Array; z: Float64Array }> {
  const { ids, t, subjectRows } = paddedSet(set);
  const reqs: CaptureRequest[] = [
    { layer, site: "mlp_key", rows: subjectRows.slice(0, set.nRewrite) },
  ];
  for (let j = 0; j <= last; j++) {
    reqs.push({ layer: j, site: "attn_out", rows: [subjectRows[0]] });
    reqs.push({ layer: j, site: "mlp_out", rows: [subjectRows[0]] });
  }
  const got = await captureRows(model, ids, set.rows.length, t, reqs);
  const z = new Float64Array(model.config.dModel);
  for (const [v] of got.slice(1)) for (let i = 0; i < z.length; i++) z[i] += v[i];
  return { key: meanRows(got[0]), z };
}

export const memitMethod: EditMethod<MemitHparams> = {
  name: "memit",
  description: "MEMIT: batched least-squares ROME over several mid FFN layers",
  defaults: MEMIT_DEFAULTS,
  schema: MEMIT_SCHEMA,
  weightDtypes: ["f32"],
  usesAnchors: () => false,
  async apply(
    ctx: EditContext,
    targets: readonly EditTarget[],
    hp: MemitHparams,
  ): Promise<MethodResult> {
    const { model, tokenizer: tok } = ctx;
    const layers = memitLayers(hp.layers, model.config.nLayers);
    const last = layers[layers.length - 1];
    const n = model.config.dFF;
    const { timings, lap } = phaseClock();
    const { prefixes, covs } = await keyStatistics(ctx, targets, hp, layers, "memit", lap);
    const sets = targets.map((x) => rewriteSet(tok, x, prefixes, model.config.contextLength));
    const zStar: Float64Array[] = [];
    const records: Record<string, unknown>[] = [];
    let diverged = false;
    for (const [i, set] of sets.entries()) {
      const v = await optimiseValue(
        model,
        set,
        last,
        hp,
        (step, loss) => ctx.onProgress?.({ phase: "memit value", step, of: hp.vSteps, loss }),
      );
      const { z } = await keysAndResidual(model, set, last, last);
      zStar.push(z.map((x, j) => x + v.delta[j]));
      records.push({
        record: targets[i].request.index,
        subject: { ...set.subject, token: tok.decode([targets[i].promptIds[set.subject.index]]) },
        contexts: set.rows.slice(0, set.nRewrite).map((row) => tok.decode(row.ids)),
        deltaNorm: norm(v.delta),
        v0Norm: norm(v.v0),
        residualNorm: v.residualNorm,
        targetProbBefore: v.probBefore,
        targetProbAfterValueSearch: v.probAfter,
        losses: v.losses,
      });
      if (v.diverged) diverged = true;
    }
    lap("value");
    const names = layers.map((l) => ffnOutProjection(model, l).name);
    const perLayer: Record<string, unknown>[] = [];
    const r = await snapshotEdit(model, names, async () => {
      if (diverged) return { diverged: true };
      for (const [li, layer] of layers.entries()) {
        const keys: Float64Array[] = [], resid: Float64Array[] = [];
        let residNorm = 0;
        for (const [i, set] of sets.entries()) {
          const { key, z } = await keysAndResidual(model, set, layer, last);
          keys.push(key);
          const rr = zStar[i].map((x, j) => (x - z[j]) / (layers.length - li));
          residNorm += norm(rr) / sets.length;
          resid.push(rr);
        }
        const cov = covs.get(layer)!;
        const factor = dampedFactor(cov, hp.covDamping);
        const w = hp.covWeight > 0 ? hp.covWeight * effectiveDim(cov, hp.covDamping) : 0;
        const upd = memitUpdate(factor, n, keys, resid, w);
        await addMath(model, ffnOutProjection(model, layer), upd);
        perLayer.push({ layer, covWeight: w, meanResidualNorm: residNorm, updateNorm: norm(upd) });
        ctx.onProgress?.({ phase: "memit update", step: li + 1, of: layers.length });
      }
      return { diverged: false };
    });
    lap("update");
    return {
      changes: r.changes,
      rolledBack: r.rolledBack,
      artifacts: {
        memit: {
          layers,
          covWeight: hp.covWeight,
          covariance: layers.map((l) => covarianceInfo(covs.get(l)!, hp.covDamping)),
          perLayer,
          edits: records,
        },
      },
      pictures: {},
      timings,
    };
  },
};
