// ROME (Meng et al. 2022): a rank-one closed-form update of one FFN output projection, keyed on
// the subject's last token.
//   k*  the mean FFN key ("mlp_key" activation) at the subject's last token over the bare prompt
//       and the context prefixes + prompt (unedited model); k0 the bare prompt's own key
//   C   E[k kᵀ] of the layer's keys over text (../covariance.ts), damped: C + damping * I
//   delta from the value search (./compute-v.ts), added to that layer's output at the subject
//   insertKey = "mean" (the paper's equation): v* = W k* + b + delta and
//       W <- W + (v* - W k* - b) (C⁻¹ k*)ᵀ / ((C⁻¹ k*)ᵀ k*)      (k* maps exactly to v*)
//   insertKey = "prompt" (ROME's released code, the default): v* = W k0 + b + delta and
//       W <- W + (v* - W k0 - b) (C⁻¹ k*)ᵀ / ((C⁻¹ k*)ᵀ k0)      (k0 maps exactly to v*)
// in math layout (out = W k; GPT-2's Conv1D [dFF, d] gets the transpose). Either way the update
// has rank one and changes the output for another key k in proportion to (C⁻¹k*)ᵀk. When the
// subject is not found in the prompt's tokens the last prompt token is used and the artefacts
// say so. Several targets (batch mode) are applied one after another.

import type { EditContext, EditMethod, EditTarget, MethodResult } from "../../edit/method.ts";
import { captureRows } from "../capture.ts";
import { snapshotEdit } from "../guarded-edit.ts";
import { earlyMiddleLayer, resolveLayer } from "../layer.ts";
import { addMath, ffnOutProjection } from "../projection.ts";
import { dampedFactor } from "../covariance.ts";
import { choleskySolve, dot, norm } from "../linalg.ts";
import { optimiseValue, paddedSet, rewriteSet } from "./compute-v.ts";
import { ROME_DEFAULTS, ROME_SCHEMA, type RomeHparams } from "./hparams.ts";
import { covarianceInfo, keyStatistics, meanRows, phaseClock } from "./key-statistics.ts";

/**
 * ROME's closed form: ΔW = r uᵀ / (uᵀ k) with u = C⁻¹ k (C given by its Cholesky factor) and
 * r = v* - W k - b, so that the edited layer maps k to v*; returns ΔW [d, n] in math layout.
 * With `insertKey` the denominator is uᵀ insertKey instead (ROME's code: u from the mean key,
 * exact insertion at the bare prompt's key).
 */
export function romeUpdate(
  factor: Float64Array,
  n: number,
  k: ArrayLike<number>,
  r: ArrayLike<number>,
  insertKey: ArrayLike<number> = k,
): Float64Array {
  const u = choleskySolve(factor, n, k);
  const den = dot(u, insertKey);
  if (!(Math.abs(den) > 0)) throw new Error("rome: the key is zero (kᵀC⁻¹k = 0)");
  const d = r.length;
  const out = new Float64Array(d * n);
  for (let o = 0; o < d; o++) {
    const s = r[o] / den;
    for (let i = 0; i < n; i++) out[o * n + i] = s * u[i];
  }
  return out;
}

export const romeMethod: EditMethod<RomeHparams> = {
  name: "rome",
  description:
    "ROME: rank-one closed-form update of one FFN output projection (its hparams' layer)",
  defaults: ROME_DEFAULTS,
  schema: ROME_SCHEMA,
  weightDtypes: ["f32"],
  usesAnchors: () => false,
  async apply(
    ctx: EditContext,
    targets: readonly EditTarget[],
    hp: RomeHparams,
  ): Promise<MethodResult> {
    const { model, tokenizer: tok } = ctx;
    const nL = model.config.nLayers;
    const layer = resolveLayer(hp.layer, nL, earlyMiddleLayer(nL), "rome");
    const info = ffnOutProjection(model, layer);
    const n = model.config.dFF;
    const { timings, lap } = phaseClock();
    const { prefixes, covs } = await keyStatistics(ctx, targets, hp, [layer], "rome", lap);
    const cov = covs.get(layer)!;
    const factor = dampedFactor(cov, hp.covDamping);
    lap("covariance");
    const records: Record<string, unknown>[] = [];
    const r = await snapshotEdit(model, [info.name], async () => {
      for (const target of targets) {
        const set = rewriteSet(tok, target, prefixes, model.config.contextLength);
        const { ids, t: len, subjectRows } = paddedSet(set);
        const [keys] = await captureRows(model, ids, set.rows.length, len, [
          { layer, site: "mlp_key", rows: subjectRows.slice(0, set.nRewrite) },
        ]);
        const kStar = meanRows(keys);
        const v = await optimiseValue(
          model,
          set,
          layer,
          hp,
          (step, loss) => ctx.onProgress?.({ phase: "rome value", step, of: hp.vSteps, loss }),
        );
        lap("value");
        const subjectToken = set.subject.index;
        const record = {
          record: target.request.index,
          layer,
          weight: info.name,
          subject: {
            ...set.subject,
            token: tok.decode([target.promptIds[subjectToken]]),
          },
          contexts: set.rows.slice(0, set.nRewrite).map((row) => tok.decode(row.ids)),
          klPrompt: set.kl ? tok.decode(set.rows[set.kl.row].ids) : null,
          deltaNorm: norm(v.delta),
          v0Norm: norm(v.v0),
          residualNorm: v.residualNorm,
          keyNorm: norm(kStar),
          targetProbBefore: v.probBefore,
          targetProbAfterValueSearch: v.probAfter,
          losses: v.losses,
        };
        records.push(record);
        if (v.diverged) return { diverged: true };
        // r = v* - W k - b = delta: v* is the output at the insertion key plus the delta.
        const upd = romeUpdate(
          factor,
          n,
          kStar,
          v.delta,
          hp.insertKey === "prompt" ? keys[0] : kStar,
        );
        await addMath(model, info, upd);
        lap("update");
      }
      return { diverged: false };
    });
    return {
      changes: r.changes,
      rolledBack: r.rolledBack,
      artifacts: { rome: { covariance: covarianceInfo(cov, hp.covDamping), edits: records } },
      pictures: {},
      timings,
    };
  },
};
