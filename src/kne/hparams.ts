// KNE hyperparameters with their defaults and allowed ranges. Details the paper leaves open
// (integration path, unit score, locality term) are documented choices here, not hidden constants.

import type { HparamsSchema } from "../io/requests.ts";

export type KneHparams = {
  /** Riemann steps of the integrated gradient (alpha = s/m, s = 1..m); 1 = gradient x weight. */
  igSteps: number;
  /** Fraction of all scored units kept in the ensemble (global threshold across layers). */
  topP: number;
  /** "global": one threshold over every layer; "per_layer": the top perLayerK units of each layer. */
  selection: "global" | "per_layer";
  perLayerK: number;
  /**
   * Which projections are scored, and so may enter the ensemble: every one ("all"), the FFN's
   * ("mlp") or the attention's ("attn"). The paper scores both.
   */
  scoredGroups: "all" | "mlp" | "attn";
  /**
   * The FFN's unit: "projection" (each projection's output units, as for attention: a column of
   * c_fc, and a residual dimension of c_proj) or "neuron" (one FFN neuron, key and value: its
   * input-projection units with the matching input unit of the output projection, one score).
   */
  ffnUnit: "projection" | "neuron";
  /**
   * The lowest layer whose units are scored and may enter the ensemble (0: every layer, the
   * paper's method). Higher floors keep the edit out of the layers below, where this project's
   * small models put most of a fact's attribution (their first FFN), and place it where the
   * prompt's last token reads the subject.
   */
  fromLayer: number;
  /** How a unit's per-parameter attributions combine: mean or sum of |attr|, or signed sum. */
  unitScore: "mean_abs" | "sum_abs" | "sum";
  /** Adam learning rate of the masked update. */
  lr: number;
  /** Maximum update steps. */
  steps: number;
  /** Stop once the mean target cross-entropy is below this. */
  earlyStopLoss: number;
  /** Weight of the KL-to-unedited term on unrelated prompts (0 disables it). */
  klWeight: number;
  /**
   * Anchors the KL term reads per update step, cycling through all of them in strided groups
   * (src/kne/locality.ts localityAnchors; 0: every anchor at every step). Fewer per step make each
   * step cheaper; the term then sees each anchor in turn.
   */
  klAnchorsPerStep: number;
  /**
   * ROME's context templates for KNE: the edit is also attributed and trained behind this many
   * prefixes sampled from the unedited model (src/edit/context-prefixes.ts), so that it holds
   * after other text; 0: the bare prompt only (the paper's method).
   */
  contextTemplates: number;
  /** Tokens sampled per context prefix. */
  templateTokens: number;
  /** Seed of the prefix sampling. */
  templateSeed: number;
  /**
   * Dynamic ensemble: every this many update steps the attribution is recomputed on the model as
   * edited so far and the ensemble selected again (the units of every round may change); 0: one
   * attribution before the update (the paper's method).
   */
  reattributeEvery: number;
  /**
   * Sequential editing: the scores of units that earlier edits of the sequence changed are
   * multiplied by 1 - spareHeld before the ensemble is selected (1: such a unit is selected again
   * only when too few unheld units are left, and then by its own score), so that a new edit does
   * not rewrite an earlier fact's ensemble; 0: off (the paper's method). Without earlier edits
   * (single and batch mode) it has no effect.
   */
  spareHeld: number;
  beta1: number;
  beta2: number;
};

/**
 * Defaults: the first search on kne-facts' dev split (data/requests/dev.json, 50 requests, its
 * anchors then the test file's prompts, which tuning now never reads), never scored on the test
 * requests; the trials are listed in bench/RESULTS.md. kne-facts' own file has since been retuned
 * with its anchor split (lr, klWeight, klAnchorsPerStep); these stay for models without a file. A
 * larger learning rate or a smaller KL weight edits as reliably but moves unrelated facts.
 */
export const KNE_DEFAULTS: KneHparams = {
  igSteps: 4,
  topP: 0.012,
  selection: "global",
  perLayerK: 8,
  scoredGroups: "all",
  ffnUnit: "projection",
  fromLayer: 0,
  unitScore: "sum_abs",
  lr: 0.02,
  steps: 60,
  earlyStopLoss: 0.05,
  klWeight: 50,
  klAnchorsPerStep: 0,
  contextTemplates: 0,
  templateTokens: 5,
  templateSeed: 0,
  reattributeEvery: 0,
  spareHeld: 0,
  beta1: 0.9,
  beta2: 0.999,
};

export const KNE_SCHEMA: HparamsSchema<KneHparams> = {
  igSteps: { type: "integer", min: 1, max: 64, description: "integrated-gradient steps" },
  topP: { type: "number", min: 0, max: 1, minExclusive: true, description: "ensemble fraction" },
  selection: { type: "string", choices: ["global", "per_layer"] },
  perLayerK: { type: "integer", min: 1, max: 1_000_000 },
  scoredGroups: { type: "string", choices: ["all", "mlp", "attn"] },
  ffnUnit: { type: "string", choices: ["projection", "neuron"] },
  fromLayer: { type: "integer", min: 0, max: 10_000, description: "lowest scored layer" },
  unitScore: { type: "string", choices: ["mean_abs", "sum_abs", "sum"] },
  lr: { type: "number", min: 0, max: 1, minExclusive: true },
  steps: { type: "integer", min: 1, max: 10_000 },
  earlyStopLoss: { type: "number", min: 0, max: 100 },
  klWeight: { type: "number", min: 0, max: 1000 },
  klAnchorsPerStep: { type: "integer", min: 0, max: 1_000_000, description: "KL anchors per step" },
  contextTemplates: { type: "integer", min: 0, max: 100, description: "context prefixes" },
  templateTokens: { type: "integer", min: 1, max: 64 },
  templateSeed: { type: "integer", min: 0, max: 1_000_000 },
  reattributeEvery: {
    type: "integer",
    min: 0,
    max: 10_000,
    description: "update steps between attributions (0: once)",
  },
  spareHeld: {
    type: "number",
    min: 0,
    max: 1,
    description: "score factor 1 - spareHeld for units earlier edits changed",
  },
  beta1: { type: "number", min: 0, max: 1, maxExclusive: true },
  beta2: { type: "number", min: 0, max: 1, maxExclusive: true },
};
