// Specs of the unit kernels: the masked update keeps optimizer state only for the units (rows or
// columns) of a weight matrix being edited, and moves them between the matrix and compact copies.
//   gather_cols:  out[r, j] = x[r, ids[j]], x rows x cols -> out rows x k.
//   scatter_rows: dst[ids[t], c] = src[t, c], src k x d -> dst V x d.
//   scatter_cols: dst[r, ids[j]] = src[r, j], src rows x k -> dst rows x cols.
//   scatter_entries: dst[rowIds[i], colIds[i]] = src[i], src k -> dst rows x cols (single
//                 entries: an edit's exact changes written back, src/edit/snapshot.ts).
// Ids are f32 values (truncated to integers, like embedding's token ids). gather_cols gives a
// column of zeros for an id outside [0, cols) or NaN; the scatters skip such ids (scatter_entries
// an entry whose row or column id is such) and leave every entry of dst no id selects exactly as
// it was. The scatters' caller gives distinct ids (entries). The f32 kernels copy bits unchanged
// (NaN payloads included).
// Each has an _f16 variant: gather_cols_f16 reads x as f16 (widened exactly); the scatters' _f16
// variants write dst as f16 (rounded to the nearest, ties to even, as f32_to_f16),
// keeping the other half of each word even when another invocation writes it (WebGPU atomics).
// All are one invocation per element of the compact side (grid folded past 65535 groups).

import { grid1d, type KernelSpec } from "./spec.ts";

const gatherCols: KernelSpec = {
  name: "gather_cols",
  inputs: ["x", "ids"],
  outputs: ["out"],
  params: [["rows", "u32"], ["cols", "u32"], ["k", "u32"]],
  sizes: (p) => [p.rows * p.cols, p.k, p.rows * p.k],
  grid: (p) => grid1d(p.rows * p.k),
};

const scatterRows: KernelSpec = {
  name: "scatter_rows",
  inputs: ["src", "ids"],
  outputs: ["dst"],
  params: [["k", "u32"], ["d", "u32"], ["V", "u32"]],
  sizes: (p) => [p.k * p.d, p.k, p.V * p.d],
  grid: (p) => grid1d(p.k * p.d),
};

const scatterCols: KernelSpec = {
  name: "scatter_cols",
  inputs: ["src", "ids"],
  outputs: ["dst"],
  params: [["rows", "u32"], ["cols", "u32"], ["k", "u32"]],
  sizes: (p) => [p.rows * p.k, p.k, p.rows * p.cols],
  grid: (p) => grid1d(p.rows * p.k),
};

const scatterEntries: KernelSpec = {
  name: "scatter_entries",
  inputs: ["src", "rowIds", "colIds"],
  outputs: ["dst"],
  params: [["k", "u32"], ["rows", "u32"], ["cols", "u32"]],
  sizes: (p) => [p.k, p.k, p.k, p.rows * p.cols],
  grid: (p) => grid1d(p.k),
};

/** `base` with binding `f16` in f16: its WGSL with the override `<F16>_HALF` set. */
function halfVariant(base: KernelSpec, f16: string): KernelSpec {
  return {
    ...base,
    name: `${base.name}_f16`,
    source: base.name,
    constants: { [`${f16.toUpperCase()}_HALF`]: 1 },
    dtypes: { [f16]: "f16" },
  };
}

export const unitKernels: KernelSpec[] = [
  gatherCols,
  halfVariant(gatherCols, "x"),
  scatterRows,
  halfVariant(scatterRows, "dst"),
  scatterCols,
  halfVariant(scatterCols, "dst"),
  scatterEntries,
  halfVariant(scatterEntries, "dst"),
];
