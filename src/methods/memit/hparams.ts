// MEMIT hyperparameters (Meng et al. 2023). The value search is ROME's (shared code and
// defaults, see ../rome/hparams.ts; |delta| is clamped relative to the residual stream as in
// MEMIT). `covWeight` is MEMIT's mom2_update_weight in units of the keys' effective dimension
// tr(C_d⁻¹ C) = E[kᵀ C_d⁻¹ k] (about dFF for well-sampled statistics, about the number of keys
// for a few); a layer inserts the fraction s / (w + s) of its share of the residual, with
// s = kᵀC⁻¹k. MEMIT's published settings (15000 for GPT-J's 16384 keys, 20000 for GPT-2 XL's
// 6400) are 0.9 to 3 in these units, but their statistics (Wikipedia) seldom hold the edited
// subjects, whose s is then far above the typical value. Here the statistics come from the
// corpus that states the very facts being edited, s is typical, and covWeight = 1 inserts only
// about half: Edit Succ. 46% on the default model (20 requests) against 60% at 0.1, the
// default (ROME: 60%). covWeight = 0 is exact insertion (ROME's equality constraint): with one
// request and one layer the update is then ROME's closed form.

import type { HparamsSchema } from "../../io/requests.ts";
import {
  COV_DEFAULTS,
  COV_SCHEMA,
  type CovHparams,
  VALUE_DEFAULTS,
  VALUE_SCHEMA,
  type ValueHparams,
} from "../rome/hparams.ts";

export type MemitHparams = ValueHparams & CovHparams & {
  /**
   * Edited layers: "auto" (the ROME layer floor((L - 1) / 2) and the ceil(L / 8) layers before
   * it) or a comma-separated list such as "1,2".
   */
  layers: string;
  /** MEMIT's mom2_update_weight over the effective key dimension (0: exact insertion). */
  covWeight: number;
};

export const MEMIT_DEFAULTS: MemitHparams = {
  layers: "auto",
  covWeight: 0.1,
  ...VALUE_DEFAULTS,
  ...COV_DEFAULTS,
};

export const MEMIT_SCHEMA: HparamsSchema<MemitHparams> = {
  layers: { type: "string", description: '"auto" or a comma-separated list of layers' },
  covWeight: { type: "number", min: 0, max: 1e9, description: "mom2_update_weight / key dim" },
  ...VALUE_SCHEMA,
  ...COV_SCHEMA,
};
