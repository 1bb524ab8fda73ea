// Fault injection for tests/reliability, read from the environment by `deno task edit`: lose the
// WebGPU device after N finished records (KNE_FAULT_DEVICE_LOST_AFTER=N), or die by SIGKILL right
// after records.jsonl gains its N-th line (KNE_FAULT_KILL_AFTER=N). Unset: nothing happens.

import type { Backend } from "../../engine/backend.ts";
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
