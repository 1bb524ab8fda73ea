// Fault injection for tests, read from the environment by `deno task edit` and `deno task compare`
// (there N counts the records of the whole comparison): lose the WebGPU device after N finished
// records (KNE_FAULT_DEVICE_LOST_AFTER=N), or die by SIGKILL right after records.jsonl gains its
// N-th line (KNE_FAULT_KILL_AFTER=N); compare only: a Ctrl-C right after the N-th finished record
// (KNE_FAULT_INTERRUPT_AFTER=N), so a test interrupts it at a known record without timing a
// signal. Unset: nothing happens.

import type { Backend } from "../../engine/backend.ts";
import type { Interrupt } from "../cli/interrupt.ts";
import { WebGpuBackend } from "../../engine/webgpu/backend.ts";

/** A hook for the run's onRecord: call it with the number of records finished so far. */
export function faultInjection(backend: Backend): (finished: number) => void {
  const loseAfter = Number(Deno.env.get("KNE_FAULT_DEVICE_LOST_AFTER") ?? "NaN");
  const killAfter = Number(Deno.env.get("KNE_FAULT_KILL_AFTER") ?? "NaN");
  return (finished) => {
    if (finished === killAfter) Deno.kill(Deno.pid, "SIGKILL");
    if (finished === loseAfter && backend instanceof WebGpuBackend) {
      console.error("fault injection: destroying the WebGPU device");
      backend.device.destroy();
    }
  };
}

/** A hook for onRecord: asks `interrupt` to stop, as a first Ctrl-C does, after N records. */
export function interruptInjection(interrupt: Interrupt): (finished: number) => void {
  const after = Number(Deno.env.get("KNE_FAULT_INTERRUPT_AFTER") ?? "NaN");
  return (finished) => {
    if (finished === after) interrupt.request();
  };
}
