// How a run that fails midway (an error, a lost WebGPU device) is reported: where its finished
// records are and how to continue, with its own exit status for a lost device.

import type { Backend } from "../../engine/backend.ts";
import { savedRecords } from "./manifest.ts";
import { GuardError } from "./output-guard.ts";

/** Whether the backend's device has been lost (waits at most `ms`): its reason, or null. */
export async function deviceLost(backend: Backend, ms = 200): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  try {
    return await Promise.race([backend.lost, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Exit status of a run stopped by a lost WebGPU device (results so far are saved). */
export const EXIT_DEVICE_LOST = 3;

/**
 * The message and exit status for an error thrown while editing: names OUT.partial and the
 * finished records it holds, and for a lost WebGPU device says so and how to continue.
 */
export async function describeFailure(
  e: unknown,
  backend: Backend,
  out: string,
): Promise<{ message: string; code: number }> {
  // A refused resume (other settings) or output folder: its message says what to do.
  if (e instanceof GuardError) return { message: e.message, code: 2 };
  const partial = `${out}.partial`;
  const lost = await deviceLost(backend);
  const started = await Deno.stat(partial).then(() => true, () => false);
  if (!started && lost === null) return { message: (e as Error)?.message ?? String(e), code: 1 };
  const n = await savedRecords(partial);
  const saved = n > 0
    ? `${n} finished record${n === 1 ? " is" : "s are"} saved in ${partial}/records.jsonl`
    : `no record had finished (${partial} holds nothing to keep)`;
  const resume = n > 0 ? `; rerun with --resume --out ${out} to continue` : "";
  if (lost !== null) {
    return {
      message: `the WebGPU device was lost (${lost}) during the run; ${saved}${resume}` +
        `${resume ? " (add --backend wasm to continue without the GPU)" : ""}`,
      code: EXIT_DEVICE_LOST,
    };
  }
  return { message: `${(e as Error)?.message ?? String(e)}\n${saved}${resume}`, code: 1 };
}
