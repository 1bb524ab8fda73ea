// The profile of an edit run (`deno task edit --profile`): every dispatch timed by the backend
// (Backend.profileDispatches: wall time per dispatch on WASM, GPU timestamps on WebGPU) summed
// per kernel, the host <-> device copies, the methods' own phase times, and the wall time the
// kernels leave unexplained (host work, tokenising, scheduling).

import type { DispatchTime, Transfers } from "../../engine/backend.ts";

/** What `--profile` measured of a run (summarizeProfile), written to OUT/profile.json. */
export interface RunProfile {
  /** The backend's name (Backend.name). */
  backend: string;
  /** Wall time of the whole run (every record, evaluation included). */
  seconds: number;
  /** Kernel dispatches timed, all records. */
  dispatches: number;
  /** Time inside kernels, all records. */
  kernelSeconds: number;
  /** Per kernel: calls and seconds, most time first. */
  kernels: { name: string; calls: number; seconds: number }[];
  /** Host <-> device copies during the run: counts and bytes. */
  transfers: Transfers;
  /** Method phases (attribution, update...) summed over the records, seconds. */
  phases: Record<string, number>;
}

/**
 * The profile of a run on `backend` that took `seconds`: its dispatch `times` summed per kernel,
 * its `transfers`, and each record's method phase timings summed per phase.
 */
export function summarizeProfile(
  backend: string,
  seconds: number,
  times: readonly DispatchTime[],
  transfers: Transfers,
  phaseTimings: readonly Record<string, number>[],
): RunProfile {
  const byKernel = new Map<string, { calls: number; seconds: number }>();
  let kernelSeconds = 0;
  for (const t of times) {
    const k = byKernel.get(t.name) ?? { calls: 0, seconds: 0 };
    k.calls++;
    k.seconds += t.ms / 1000;
    kernelSeconds += t.ms / 1000;
    byKernel.set(t.name, k);
  }
  const phases: Record<string, number> = {};
  for (const p of phaseTimings) {
    for (const [k, v] of Object.entries(p)) phases[k] = (phases[k] ?? 0) + v;
  }
  return {
    backend,
    seconds,
    dispatches: times.length,
    kernelSeconds,
    kernels: [...byKernel].map(([name, k]) => ({ name, ...k }))
      .sort((a, b) => b.seconds - a.seconds),
    transfers,
    phases,
  };
}

const s = (x: number) => `${x.toFixed(3)} s`;
const mb = (x: number) => `${(x / 1e6).toFixed(2)} MB`;

/** A few lines for the terminal: totals, phases, the top kernels. */
export function formatProfile(p: RunProfile, top = 8): string {
  const t = p.transfers;
  return [
    `profile (${p.backend}): ${s(p.seconds)} wall, ${s(p.kernelSeconds)} in ${p.dispatches} ` +
    `dispatches, ${s(Math.max(0, p.seconds - p.kernelSeconds))} outside kernels`,
    `  phases: ${Object.entries(p.phases).map(([k, v]) => `${k} ${s(v)}`).join(", ") || "none"}`,
    `  copies: ${t.uploads} uploads (${mb(t.uploadBytes)}), ${t.reads} reads (${mb(t.readBytes)})`,
    `  kernels: ${
      p.kernels.slice(0, top).map((k) => `${k.name} ${s(k.seconds)}/${k.calls}`).join(", ")
    }`,
  ].join("\n");
}
