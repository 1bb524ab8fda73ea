// Host copies of the parameters an edit may change: restores them when an edit diverges (the
// model is never left half-edited) and diffs them afterwards into the exact changed entries.
// Snapshot copies whole tensors; UnitSnapshot only the units (rows / columns) an edit trains, so
// its bytes and its diff scale with the selection.

import { BackendError } from "../../engine/backend.ts";
import type { TensorChange } from "../io/patch.ts";
import type { CausalLM } from "../model/lm.ts";
import { gatherUnits, scatterUnits, unitMatrix, writeEntries } from "../tensor/ops.ts";
import { Tensor, tidy, tidyAsync } from "../tensor/tensor.ts";

/**
 * Units of one tensor seen as a matrix (unitMatrix): its rows (axis 0) or columns (axis 1)
 * `units`, ascending.
 */
export interface UnitSelection {
  name: string;
  units: readonly number[];
  axis: 0 | 1;
}

/** Writes each change's `before` or `after` values into the model, one scatter per tensor. */
export function writeChanges(
  model: CausalLM,
  changes: readonly TensorChange[],
  which: "before" | "after",
): void {
  for (const c of changes) writeEntries(model.params.get(c.name)!.value, c.indices, c[which]);
}

export class Snapshot implements EditSnapshot {
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

/** What an edit needs of a snapshot: put the values back, or list what changed. */
export interface EditSnapshot {
  restore(): void;
  changes(): Promise<TensorChange[]>;
}

/** Flat indices of a selection's entries in gatherUnits' order, which is ascending. */
function selectionIndices(shape: readonly number[], sel: UnitSelection): Uint32Array {
  const [rows, cols] = shape.length === 2 ? shape : [1, shape[0]];
  const k = sel.units.length;
  const out = new Uint32Array(k * (sel.axis === 0 ? cols : rows));
  let n = 0;
  if (sel.axis === 0) {
    for (const u of sel.units) for (let c = 0; c < cols; c++) out[n++] = u * cols + c;
  } else {
    for (let r = 0; r < rows; r++) for (const u of sel.units) out[n++] = r * cols + u;
  }
  return out;
}

interface SavedUnits {
  sel: UnitSelection;
  indices: Uint32Array;
  before: Float32Array;
}

export class UnitSnapshot implements EditSnapshot {
  private constructor(readonly model: CausalLM, readonly saved: SavedUnits[]) {}

  static async take(model: CausalLM, selections: readonly UnitSelection[]): Promise<UnitSnapshot> {
    const saved: SavedUnits[] = [];
    for (const sel of selections) {
      const p = model.params.get(sel.name);
      if (!p) throw new BackendError(`snapshot: no parameter ${sel.name}`);
      const before = await UnitSnapshot.#read(model, sel);
      saved.push({ sel, indices: selectionIndices(p.shape, sel), before });
    }
    return new UnitSnapshot(model, saved);
  }

  static #read(model: CausalLM, sel: UnitSelection): Promise<Float32Array> {
    return tidyAsync(() => {
      const ids = Tensor.fromArray(model.backend, sel.units, [sel.units.length]);
      return gatherUnits(unitMatrix(model.params.get(sel.name)!.value), ids, sel.axis).toArray();
    });
  }

  /** Writes the saved values back (exact: f16 tensors hold values f16 represents). */
  restore(): void {
    for (const { sel, before } of this.saved) {
      tidy(() => {
        const m = unitMatrix(this.model.params.get(sel.name)!.value);
        const be = this.model.backend;
        const ids = Tensor.fromArray(be, sel.units, [sel.units.length]);
        const k = sel.units.length;
        const shape = sel.axis === 0 ? [k, m.shape[1]] : [m.shape[0], k];
        scatterUnits(m, Tensor.fromArray(be, before, shape), ids, sel.axis);
      });
    }
  }

  /** Entries that differ bitwise from the snapshot, per tensor (unchanged tensors omitted). */
  async changes(): Promise<TensorChange[]> {
    const out: TensorChange[] = [];
    for (const { sel, indices, before } of this.saved) {
      const now = await UnitSnapshot.#read(this.model, sel);
      const a = new Uint32Array(before.buffer, before.byteOffset, before.length);
      const b = new Uint32Array(now.buffer, now.byteOffset, now.length);
      const idx = new Uint32Array(a.length), was = new Float32Array(a.length);
      const is = new Float32Array(a.length);
      let n = 0;
      for (let i = 0; i < a.length; i++) {
        if (a[i] === b[i]) continue;
        idx[n] = indices[i];
        was[n] = before[i];
        is[n++] = now[i];
      }
      if (n === 0) continue;
      out.push({
        name: sel.name,
        shape: this.model.params.get(sel.name)!.shape,
        indices: idx.slice(0, n),
        before: was.slice(0, n),
        after: is.slice(0, n),
      });
    }
    return out;
  }
}
