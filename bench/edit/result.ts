// What one shape's child process reports (EditResult), with its plan's summary, the PyTorch
// peer's edit, and the digest that shows an optimisation left the edit's results bit-identical.

import type { DType } from "../../engine/backend.ts";
import type { kneEdit } from "../../src/kne/kne.ts";
import type { MemoryPlan } from "../../src/plan/plan.ts";

export interface PlanSummary {
  weights: number;
  attributionPeak: number;
  updatePeak: number;
  devicePeak: number;
  hostExtra: number;
  gflop: number;
}

export function planSummary(p: MemoryPlan): PlanSummary {
  const b = p.bytes;
  return {
    weights: b.weights,
    attributionPeak: b.attributionPeak,
    updatePeak: b.updatePeak,
    devicePeak: b.devicePeak,
    hostExtra: b.hostExtra,
    gflop: p.flops / 1e9,
  };
}

/** The PyTorch peer's edit (bench/peers/torch_edit.py's output), for a WASM f32 row. */
export interface TorchEdit {
  ms: number;
  msAll: number[];
  phases: { attribution: number; selection: number; update: number; other: number };
  ensembleUnits: number;
  totalUnits: number;
  changedEntries: number;
  targetProbBefore: number;
  steps: number;
  lossFirst: number;
  lossLast: number;
  torch: string;
  threads: number;
}

export interface EditResult {
  shape: string;
  label: string;
  config: string;
  backend: string;
  description: string;
  /** WASM: the backend's threads (the PyTorch peer runs with as many). */
  threads: number | null;
  /** Device dtype of the weight matrices. */
  dtype: DType;
  /** Layer groups attribution ran in (the planner's choice to fit). */
  attributionChunks: number;
  /** Whether the layers were checkpointed (the planner's choice to fit). */
  checkpointLayers: boolean;
  params: number;
  weightBytes: number;
  tokens: number;
  /** Locality anchors (0: no KL term). */
  anchors: number;
  /** Update steps run (all of HP.steps unless the edit diverged). */
  steps: number;
  edits: number;
  /** Median per-edit wall time (kneEdit), ms, and every timed edit's. */
  ms: number;
  msAll: number[];
  /** Median per phase, ms. */
  /**
   * other: the rest of kneEdit, i.e. UnitSnapshot.take and the diff of the ensemble entries, and
   * with --anchors the unedited model's reference forward over the anchors.
   */
  phases: { attribution: number; selection: number; update: number; other: number };
  buildSeconds: number;
  peakDeviceBytes: number | null;
  /** Peak allocated bytes in the attribution path and after it (scoring, snapshot, update). */
  peakPhaseBytes: { attribution: number; update: number } | null;
  memoryBytes: number | null;
  peakRssBytes: number;
  /** Whether the peak RSS was reset before each edit (else it includes the model build). */
  rssReset: boolean;
  plan: PlanSummary;
  /** What the edit did (identical in every timed edit). */
  ensembleUnits: number;
  totalUnits: number;
  changedEntries: number;
  /** Parameter entries inside the ensemble: the most an edit may change. */
  ensembleParams: number;
  targetProbBefore: number;
  lossFirst: number;
  lossLast: number;
  /** digest() of the edits (warm-up included): one value when every edit gave the same. */
  digest: string;
  loadBefore: string;
  loadAfter: string;
  profile?: {
    phases: { phase: string; ms: number; kernelMs: number }[];
    kernels: { kernel: string; ms: number; calls: number }[];
    /** Matmuls by kernel and batch x m x n x k, largest time first. */
    matmuls: { kernel: string; ms: number; calls: number }[];
  };
  /** WASM f32 rows: the same edit in PyTorch CPU (set by the parent after the child). */
  pytorch?: TorchEdit;
}

/**
 * FNV-1a over the bits of what an edit produced: every unit's attribution score, the ensemble,
 * the losses and the changed entries. Equal digests before and after an optimisation of
 * src/kne/ show that it left the results bit-identical.
 */
export function digest(r: Awaited<ReturnType<typeof kneEdit>>): string {
  let h = 0x811c9dc5;
  const mix = (u: number) => {
    h = Math.imul(h ^ (u & 0xff), 16777619);
    h = Math.imul(h ^ ((u >>> 8) & 0xff), 16777619);
    h = Math.imul(h ^ ((u >>> 16) & 0xff), 16777619);
    h = Math.imul(h ^ (u >>> 24), 16777619);
  };
  const f32 = (a: Float32Array) => {
    const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (let i = 0; i < u.length; i++) mix(u[i]);
  };
  for (const t of r.attribution.tensors) f32(t.unitScores);
  for (const t of r.ensemble.tensors) for (const u of t.units) mix(u);
  f32(Float32Array.from(r.update.losses));
  for (const c of r.changes) {
    for (const i of c.indices) mix(i);
    f32(c.after);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}
