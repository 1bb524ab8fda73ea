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

/**
 * Each tiny fixture (GPT-2, Llama, GPT-NeoX, GPT-J, Gemma 2 and 3) with each way KNE can see an
 * FFN unit (KneHparams.ffnUnit).
 */
export const FIXTURE_FFN_UNITS = [
  ["tiny-gpt2", "projection"],
  ["tiny-llama", "projection"],
  ["tiny-neox", "projection"],
  ["tiny-gptj", "projection"],
  ["tiny-gemma2", "projection"],
  ["tiny-gemma3", "projection"],
  ["tiny-gpt2", "neuron"],
  ["tiny-llama", "neuron"],
  ["tiny-neox", "neuron"],
  ["tiny-gptj", "neuron"],
  ["tiny-gemma2", "neuron"],
  ["tiny-gemma3", "neuron"],
] as const;
