// ROME hyperparameters (Meng et al. 2022). Kept from ROME's GPT-2 XL settings: weight decay 0.5,
// KL factor 0.0625 on "{subject} is a", |delta| clamped to 4 x a reference norm, early stop at
// NLL 0.05. Changed for small models, measured on the default model (4 x 128, 20 requests of
// data/requests/test.json):
//   - the reference norm is the residual stream's at the subject (MEMIT's) rather than the FFN
//     output's: there the FFN output norm is ~5 against a residual of ~250, and a 4x clamp on
//     it left Edit Succ. at the unedited 22%;
//   - Adam lr 2 for 60 steps instead of 0.5 for 20: Adam moves each coordinate by about lr, so
//     the delta's norm grows like lr * sqrt(d) per step, 4x slower at d = 128 than GPT-2 XL's
//     1600, and the needed |delta| is about the residual's norm (Edit Succ. 22% -> 60%);
//   - no context prefixes by default (contextTemplates = 0): the default model has learned
//     absolute positions and was trained on sentences starting at position 0, so prompts after a
//     sampled prefix are out of distribution and the value search failed on them (47% with 4
//     prefixes against 60-80% without; ROME uses 20 for GPT-2 XL).
// The key covariance is damped by a term relative to its mean diagonal.

import type { HparamsSchema } from "../../io/requests.ts";

/** The value-optimisation settings ROME and MEMIT share. */
export type ValueHparams = {
  /** Adam steps on the delta added to the FFN output at the subject's last token. */
  vSteps: number;
  vLr: number;
  /** ROME's v_weight_decay: adds vWeightDecay * |delta| / |h0|^2 to the loss. */
  vWeightDecay: number;
  /** Weight of KL(unedited || edited) of the next token after "{subject} is a" (0: off). */
  klFactor: number;
  /** |delta| is clamped to clampNormFactor * |h0| after each step (h0: the residual stream). */
  clampNormFactor: number;
  /** Stop once the target's mean negative log-likelihood is below this. */
  earlyStopLoss: number;
  /** Sampled context prefixes besides the bare prompt (ROME's context templates). */
  contextTemplates: number;
  /** Tokens sampled per context prefix. */
  templateTokens: number;
  /** Seed of the prefix sampling. */
  templateSeed: number;
};

export type CovHparams = {
  /** Key statistics texts: "auto", "corpus", "prompts" or a file (see src/methods/covariance.ts). */
  covTexts: string;
  /** Use at most this many texts. */
  covSamples: number;
  /** C + covDamping * mean(diag C) * I keeps the key covariance invertible. */
  covDamping: number;
};

export type RomeHparams = ValueHparams & CovHparams & {
  /** Edited layer; -1 = floor((nLayers - 1) / 2). */
  layer: number;
  /**
   * Which key the update maps exactly to its new value: "prompt" (the bare prompt's key, as
   * ROME's code does) or "mean" (the mean key k* over the context prefixes, the paper's
   * equation; what MEMIT with one layer and covWeight 0 reduces to).
   */
  insertKey: "prompt" | "mean";
};

export const VALUE_DEFAULTS: ValueHparams = {
  vSteps: 60,
  vLr: 2,
  vWeightDecay: 0.5,
  klFactor: 0.0625,
  clampNormFactor: 4,
  earlyStopLoss: 0.05,
  contextTemplates: 0,
  templateTokens: 5,
  templateSeed: 0,
};

export const COV_DEFAULTS: CovHparams = {
  covTexts: "auto",
  covSamples: 10_000,
  covDamping: 1e-2,
};

export const ROME_DEFAULTS: RomeHparams = {
  layer: -1,
  insertKey: "prompt",
  ...VALUE_DEFAULTS,
  ...COV_DEFAULTS,
};

export const VALUE_SCHEMA: HparamsSchema<ValueHparams> = {
  vSteps: { type: "integer", min: 1, max: 10_000, description: "value optimisation steps" },
  vLr: { type: "number", min: 0, max: 100, minExclusive: true, description: "value Adam lr" },
  vWeightDecay: { type: "number", min: 0, max: 1e6 },
  klFactor: { type: "number", min: 0, max: 1e6 },
  clampNormFactor: { type: "number", min: 0, max: 1e6, minExclusive: true },
  earlyStopLoss: { type: "number", min: 0, max: 100 },
  contextTemplates: { type: "integer", min: 0, max: 100 },
  templateTokens: { type: "integer", min: 1, max: 100 },
  templateSeed: { type: "integer", min: 0, max: 2 ** 31 },
};

export const COV_SCHEMA: HparamsSchema<CovHparams> = {
  covTexts: { type: "string", description: '"auto", "corpus", "prompts" or a text file' },
  covSamples: { type: "integer", min: 1, max: 10_000_000 },
  covDamping: { type: "number", min: 0, max: 1e6, minExclusive: true },
};

export const ROME_SCHEMA: HparamsSchema<RomeHparams> = {
  layer: { type: "integer", min: -1, max: 10_000, description: "layer (-1: early middle)" },
  insertKey: { type: "string", choices: ["prompt", "mean"], description: "key inserted exactly" },
  ...VALUE_SCHEMA,
  ...COV_SCHEMA,
};
