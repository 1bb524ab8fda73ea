// FT-L and FT-M (EasyEdit's fine-tuning baselines): Adam on one FFN output projection of one
// layer (GPT-2 mlp.c_proj.weight, Llama mlp.down_proj.weight), every other parameter frozen.
//   FT-L ("prompt_last"): cross-entropy of the first target token at the last prompt position.
//   FT-M ("target_new"): teacher-forced cross-entropy of every target token, prompt masked.
// Several targets (batch mode) are one padded batch with the loss averaged over target tokens.

import { Adam } from "../../autograd/adam.ts";
import * as A from "../../autograd/ops.ts";
import { backward } from "../../autograd/variable.ts";
import type { EditContext, EditMethod, EditTarget, MethodResult } from "../../edit/method.ts";
import { padBatch, type TeacherForced } from "../../edit/request.ts";
import type { CausalLM } from "../../model/lm.ts";
import { Tensor, tidy, tidyAsync } from "../../tensor/tensor.ts";
import { freezeAllBut, snapshotEdit } from "../guarded-edit.ts";
import { resolveLayer } from "../layer.ts";
import { ffnOutProjection } from "../projection.ts";
import { FT_DEFAULTS, FT_SCHEMA, type FtHparams } from "./hparams.ts";

export type FtObjective = "prompt_last" | "target_new";

/** The training row of a target for an objective. */
export function ftRow(t: EditTarget, objective: FtObjective): TeacherForced {
  if (objective === "target_new") return t.row;
  const ids = t.promptIds;
  return { ids, targets: ids.map((_, i) => (i === ids.length - 1 ? t.targetIds[0] : -1)) };
}

export interface FtRun {
  layer: number;
  weight: string;
  losses: number[];
  diverged: boolean;
}

/** Fine-tunes the layer's FFN output projection in place on `rows`. */
export async function fineTune(
  model: CausalLM,
  rows: readonly TeacherForced[],
  hp: FtHparams,
  onStep?: (step: number, loss: number) => void,
): Promise<FtRun> {
  const layer = resolveLayer(
    hp.layer,
    model.config.nLayers,
    model.config.nLayers - 1,
    "ft",
  );
  const info = ffnOutProjection(model, layer);
  const p = model.params.get(info.name)!;
  const be = model.backend;
  const restoreGrad = freezeAllBut(model, [info.name]);
  const opt = new Adam([p], {
    lr: hp.lr,
    beta1: hp.beta1,
    beta2: hp.beta2,
    weightDecay: hp.weightDecay,
  });
  const original = hp.normConstraint > 0 ? await p.value.toArray() : null;
  const { ids, targets, t } = padBatch(rows);
  const count = targets.filter((x) => x >= 0).length;
  const idT = Tensor.fromArray(be, ids, [rows.length, t]);
  const tgT = Tensor.fromArray(be, targets, [targets.length]);
  const w = Tensor.fromArray(be, targets.map((x) => (x >= 0 ? 1 / count : 0)), [targets.length]);
  const losses: number[] = [];
  let diverged = false;
  try {
    for (let step = 0; step < hp.steps; step++) {
      const loss = await tidyAsync(async () => {
        const ce = A.dot(A.crossEntropyRows(model.forward(idT), tgT), w);
        const v = (await ce.value.toArray())[0];
        if (Number.isFinite(v) && v >= hp.earlyStopLoss) backward(ce);
        return v;
      });
      losses.push(loss);
      onStep?.(step + 1, loss);
      if (!Number.isFinite(loss)) {
        diverged = true;
        break;
      }
      if (loss < hp.earlyStopLoss) break;
      tidy(() => opt.update());
      opt.zeroGrad();
      if (original) {
        // EasyEdit's norm constraint: clamp to [w0 - eps, w0 + eps].
        const now = await p.value.toArray();
        const eps = hp.normConstraint;
        for (let i = 0; i < now.length; i++) {
          now[i] = Math.min(original[i] + eps, Math.max(original[i] - eps, now[i]));
        }
        be.upload(p.value.buffer, now);
      }
    }
  } finally {
    opt.zeroGrad();
    opt.dispose();
    restoreGrad();
    for (const x of [idT, tgT, w]) x.free();
  }
  return { layer, weight: info.name, losses, diverged };
}

function ftMethod(
  name: string,
  objective: FtObjective,
  description: string,
): EditMethod<FtHparams> {
  return {
    name,
    description,
    defaults: FT_DEFAULTS,
    schema: FT_SCHEMA,
    weightDtypes: ["f32"],
    usesAnchors: () => false,
    async apply(
      ctx: EditContext,
      targets: readonly EditTarget[],
      hp: FtHparams,
    ): Promise<MethodResult> {
      const t0 = performance.now();
      const model = ctx.model;
      const layer = resolveLayer(
        hp.layer,
        model.config.nLayers,
        model.config.nLayers - 1,
        name,
      );
      const weight = ffnOutProjection(model, layer).name;
      const r = await snapshotEdit(model, [weight], () =>
        fineTune(
          model,
          targets.map((t) => ftRow(t, objective)),
          hp,
          (step, loss) => ctx.onProgress?.({ phase: name, step, of: hp.steps, loss }),
        ));
      return {
        changes: r.changes,
        rolledBack: r.rolledBack,
        artifacts: {
          [name]: {
            objective,
            layer,
            weight,
            steps: r.value.losses.length,
            losses: r.value.losses,
          },
        },
        pictures: {},
        timings: { finetune: (performance.now() - t0) / 1000 },
      };
    },
  };
}

export const ftlMethod = ftMethod(
  "ft-l",
  "prompt_last",
  "FT-L: fine-tune one FFN output projection (its hparams' layer) on the last prompt token (EasyEdit)",
);

export const ftmMethod = ftMethod(
  "ft-m",
  "target_new",
  "FT-M: fine-tune one FFN output projection (its hparams' layer), teacher forced on the target (EasyEdit)",
);
