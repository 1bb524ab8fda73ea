// KNE hyperparameters that edit the tiny GPT-2 fixture (tests/helpers/tiny.ts) in a few steps.

import { KNE_DEFAULTS, type KneHparams } from "../../src/kne/hparams.ts";

export const TINY_HP: KneHparams = {
  ...KNE_DEFAULTS,
  igSteps: 2,
  topP: 0.05,
  lr: 0.02,
  steps: 100,
  earlyStopLoss: 0.01,
};
