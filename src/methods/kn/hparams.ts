// KN (Dai et al. 2022, "Knowledge Neurons in Pretrained Transformers") hyperparameters: the
// paper's integrated-gradient steps (m = 20) and adaptive threshold (0.2 x the largest score),
// and the knowledge-neurons package's "edit" scale (value -= 2 E[old], value += 2 E[new]).

import type { HparamsSchema } from "../../io/requests.ts";

export type KnHparams = {
  /** Riemann steps m of the integrated gradient (alpha = s / m, s = 1..m). */
  igSteps: number;
  /** Keep neurons whose score is at least this fraction of the largest score. */
  threshold: number;
  /** Keep at most this many neurons (largest scores first); 0 = no cap. */
  maxNeurons: number;
  /** lambda of the edit: value += lambda * (E[target] - E[original prediction]). */
  lambda: number;
};

export const KN_DEFAULTS: KnHparams = {
  igSteps: 20,
  threshold: 0.2,
  maxNeurons: 0,
  lambda: 2,
};

export const KN_SCHEMA: HparamsSchema<KnHparams> = {
  igSteps: { type: "integer", min: 1, max: 1000, description: "integrated-gradient steps" },
  threshold: {
    type: "number",
    min: 0,
    max: 1,
    minExclusive: true,
    description: "fraction of the top attribution score a neuron needs",
  },
  maxNeurons: { type: "integer", min: 0, max: 1_000_000, description: "cap (0: none)" },
  lambda: { type: "number", min: 0, max: 1e6, description: "edit scale" },
};
