// KN (Dai et al. 2022, "Knowledge Neurons in Pretrained Transformers") hyperparameters: the paper's
// integrated-gradient steps (m = 20) and the knowledge-neurons package's edit (value -= lambda
// E[old], value += lambda E[new]). The threshold (the paper's 0.2 x the largest score) and lambda
// (the package's 2) were chosen on the dev split (data/requests/dev.json, never the test requests)
// by bench/tune.ts over threshold {0.1, 0.2, 0.3} x lambda {1, 2, 4, 8}, then {0.05, 0.1} x {0.5,
// 1}, with the rule KNE's defaults follow (bench/RESULTS.md): no setting keeps Locality at 90 while
// editing, so the best mean of Edit Succ., Generalization and Locality wins: 0.1 and 1 (61 / 57.5 /
// 74.8 on dev, against 60.5 / 60 / 64 for the paper's and package's values).
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
  threshold: 0.1,
  maxNeurons: 0,
  lambda: 1,
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
