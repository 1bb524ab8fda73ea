// --profile: one more edit by kneEdit's steps with every dispatch timed, by kernel, by matmul
// shape and by phase.

import type { Backend } from "../../engine/backend.ts";
import type { teacherForced } from "../../src/edit/request.ts";
import { UnitSnapshot, writeChanges } from "../../src/edit/snapshot.ts";
import { attribute } from "../../src/kne/attribution.ts";
import { ensembleSelections, selectEnsemble } from "../../src/kne/ensemble.ts";
import { freeAnchor, localityAnchors } from "../../src/kne/locality.ts";
import { maskedUpdate } from "../../src/kne/update.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import type { EditResult } from "./result.ts";
import { HP } from "./settings.ts";

/**
 * Times every dispatch by kernel name and by the current phase label through the backend's own
 * profiling (Backend.profileDispatches: on WASM the wall time of each synchronous dispatch, on
 * WebGPU the GPU timestamps of each, one pass per dispatch), collected at the end of each phase.
 */
class Profiler {
  phase = "";
  kernels = new Map<string, { ms: number; calls: number }>();
  /** Matmuls by name and [batch, m, n, k]. */
  shapes = new Map<string, { ms: number; calls: number }>();
  phaseKernelMs = new Map<string, number>();
  constructor(readonly be: Backend) {
    be.profileDispatches(true);
  }
  #add(name: string, params: readonly number[], ms: number): void {
    const e = this.kernels.get(name) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls++;
    this.kernels.set(name, e);
    if (name.startsWith("matmul")) {
      const key = `${name} ${params.slice(0, 4).join("x")}`;
      const f = this.shapes.get(key) ?? { ms: 0, calls: 0 };
      f.ms += ms;
      f.calls++;
      this.shapes.set(key, f);
    }
    this.phaseKernelMs.set(this.phase, (this.phaseKernelMs.get(this.phase) ?? 0) + ms);
  }
  /** Counts the times of the phase's dispatches. */
  async endPhase(): Promise<void> {
    for (const t of await this.be.takeDispatchTimes()) this.#add(t.name, t.params, t.ms);
  }
  restore(): void {
    this.be.profileDispatches(false);
  }
}

/** One edit by kneEdit's steps, each phase timed, every dispatch timed. */
export async function profiledEdit(
  model: CausalLM,
  rows: ReturnType<typeof teacherForced>[],
  anchors: number[][],
  chunks: number,
): Promise<NonNullable<EditResult["profile"]>> {
  const prof = new Profiler(model.backend);
  const phases: { phase: string; ms: number; kernelMs: number }[] = [];
  const timed = async <T>(phase: string, fn: () => Promise<T> | T): Promise<T> => {
    prof.phase = phase;
    const t0 = performance.now();
    const r = await fn();
    await prof.endPhase();
    phases.push({
      phase,
      ms: performance.now() - t0,
      kernelMs: prof.phaseKernelMs.get(phase) ?? 0,
    });
    return r;
  };
  try {
    const attr = await timed("attribution", () => attribute(model, rows, HP, undefined, chunks));
    const ens = await timed("selection", () => selectEnsemble(attr, HP));
    const snap = await timed(
      "snapshot take",
      () => UnitSnapshot.take(model, ensembleSelections(ens)),
    );
    await timed("update", async () => {
      const groups = HP.klWeight > 0 && anchors.length > 0
        ? localityAnchors(model, anchors, HP.klAnchorsPerStep)
        : [];
      try {
        return await maskedUpdate(model, rows, ens, HP, groups, undefined, true);
      } finally {
        for (const a of groups.flat()) freeAnchor(a);
      }
    });
    const changes = await timed("snapshot diff", () => snap.changes());
    writeChanges(model, changes, "before");
  } finally {
    prof.restore();
  }
  const sorted = (m: Map<string, { ms: number; calls: number }>) =>
    [...m.entries()].sort((a, b) => b[1].ms - a[1].ms)
      .map(([kernel, e]) => ({ kernel, ms: e.ms, calls: e.calls }));
  return { phases, kernels: sorted(prof.kernels), matmuls: sorted(prof.shapes) };
}
