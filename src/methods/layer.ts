// Which layer a baseline edits: its default (ROME's early-middle layer) and a `layer`
// hyperparameter checked against the model.

import { BackendError } from "../../engine/backend.ts";

/**
 * ROME default: the early-middle layer floor((L - 1) / 2), where causal tracing puts the
 * subject's FFN recall (ROME edits layer 17 of GPT-2 XL's 48, 5 of GPT-J's 28).
 */
export function earlyMiddleLayer(nLayers: number): number {
  return Math.floor((nLayers - 1) / 2);
}

/** The hparam `layer` (-1 = the method's default) checked against the model. */
export function resolveLayer(
  layer: number,
  nLayers: number,
  fallback: number,
  who: string,
): number {
  const l = layer < 0 ? fallback : layer;
  if (!Number.isInteger(l) || l < 0 || l >= nLayers) {
    throw new BackendError(`${who}: layer ${layer} is out of range (the model has ${nLayers})`);
  }
  return l;
}
