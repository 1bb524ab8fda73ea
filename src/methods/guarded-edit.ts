// An in-place edit of some parameters, guarded: every other parameter frozen while it trains,
// and the snapshot restored when it throws, diverges or leaves a NaN/Inf (the rollback).

import { Snapshot } from "../edit/snapshot.ts";
import type { TensorChange } from "../io/patch.ts";
import type { CausalLM } from "../model/lm.ts";
import { countNonfinite } from "../tensor/ops.ts";
import { tidyAsync } from "../tensor/tensor.ts";

/**
 * Makes only `names` trainable (zeroing every gradient); returns the function that puts every
 * parameter's requiresGrad back.
 */
export function freezeAllBut(model: CausalLM, names: readonly string[]): () => void {
  const saved = [...model.params.values()].map((p) => [p, p.requiresGrad] as const);
  const keep = new Set(names);
  for (const [name, p] of model.params) {
    p.zeroGrad();
    p.requiresGrad = keep.has(name);
  }
  return () => {
    for (const [p, r] of saved) {
      p.zeroGrad();
      p.requiresGrad = r;
    }
  };
}

export async function anyNonFinite(model: CausalLM, names: readonly string[]): Promise<boolean> {
  for (const n of names) {
    const p = model.params.get(n)!;
    const bad = await tidyAsync(async () => (await countNonfinite(p.value).toArray())[0]);
    if (bad > 0) return true;
  }
  return false;
}

export interface SnapshotEdit<T> {
  value: T;
  changes: TensorChange[];
  rolledBack: boolean;
}

/**
 * Runs an in-place edit of the parameters `names` under a snapshot: on an exception, or when the
 * edit reports `diverged` or leaves a NaN/Inf in them, the snapshot is restored (rolledBack,
 * no changes); otherwise the exact changed entries are returned.
 */
export async function snapshotEdit<T extends { diverged?: boolean }>(
  model: CausalLM,
  names: readonly string[],
  edit: () => Promise<T>,
): Promise<SnapshotEdit<T>> {
  const snapshot = await Snapshot.take(model, names);
  let value: T;
  try {
    value = await edit();
  } catch (e) {
    snapshot.restore();
    throw e;
  }
  if (value.diverged || (await anyNonFinite(model, names))) {
    snapshot.restore();
    return { value, changes: [], rolledBack: true };
  }
  return { value, changes: await snapshot.changes(), rolledBack: false };
}
