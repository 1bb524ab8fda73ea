// Host copies of the parameters an edit may change: restores them when an edit diverges (the
// model is never left half-edited) and diffs them afterwards into the exact changed entries.

import { BackendError } from "../../engine/backend.ts";
import type { CausalLM } from "../model/lm.ts";
import { writeAt } from "../tensor/ops.ts";

export interface TensorChange {
  name: string;
  shape: readonly number[];
  /** Flat indices of entries whose bits changed, ascending. */
  indices: Uint32Array;
  before: Float32Array;
  after: Float32Array;
}

/** Writes each change's `before` or `after` values into the model, one upload per run. */
export function writeChanges(
  model: CausalLM,
  changes: readonly TensorChange[],
  which: "before" | "after",
): void {
  for (const c of changes) {
    const p = model.params.get(c.name)!;
    const values = c[which];
    let i = 0;
    while (i < c.indices.length) {
      let j = i + 1;
      while (j < c.indices.length && c.indices[j] === c.indices[j - 1] + 1) j++;
      writeAt(p.value, c.indices[i], values.subarray(i, j));
      i = j;
    }
  }
}

export class Snapshot {
  private constructor(readonly model: CausalLM, readonly saved: Map<string, Float32Array>) {}

  static async take(model: CausalLM, names: Iterable<string>): Promise<Snapshot> {
    const saved = new Map<string, Float32Array>();
    for (const n of names) {
      const p = model.params.get(n);
      if (!p) throw new BackendError(`snapshot: no parameter ${n}`);
      if (!saved.has(n)) saved.set(n, await p.value.toArray());
    }
    return new Snapshot(model, saved);
  }

  /** Writes the saved values back. */
  restore(): void {
    for (const [n, data] of this.saved) {
      const p = this.model.params.get(n)!;
      p.value.backend.upload(p.value.buffer, data);
    }
  }

  /** Entries that differ bitwise from the snapshot, per tensor (unchanged tensors omitted). */
  async changes(): Promise<TensorChange[]> {
    const out: TensorChange[] = [];
    for (const [n, before] of this.saved) {
      const p = this.model.params.get(n)!;
      const now = await p.value.toArray();
      const a = new Uint32Array(before.buffer, before.byteOffset, before.length);
      const b = new Uint32Array(now.buffer, now.byteOffset, now.length);
      const idx: number[] = [];
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) idx.push(i);
      if (idx.length === 0) continue;
      const indices = Uint32Array.from(idx);
      out.push({
        name: n,
        shape: p.shape,
        indices,
        before: Float32Array.from(indices, (i) => before[i]),
        after: Float32Array.from(indices, (i) => now[i]),
      });
    }
    return out;
  }
}
