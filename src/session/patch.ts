// A patch file (src/io/patch.ts) applied to or reverted from a loaded model on its device, with
// the checks of `deno task patch`: every entry inside its tensor, and the model holding bit for
// bit the values the patch starts from (else refused, unless otherWeights). Only the patched tensors
// are copied to the host for the check.

import { writeChanges } from "../edit/snapshot.ts";
import { applyPatchTo, type PatchEntry } from "../io/patch.ts";
import type { SessionModel } from "./load.ts";
import { oneAtATime } from "./serial.ts";

/**
 * Applies (`after` values) or reverts (`before`) `patch` in place; returns otherWeights' warnings.
 * Runs after the library's calls made before it have settled (./serial.ts).
 */
export function applyPatch(
  m: SessionModel,
  patch: readonly PatchEntry[],
  direction: "apply" | "revert",
  opts: { otherWeights?: boolean; file?: string } = {},
): Promise<string[]> {
  return oneAtATime(() => patchModel(m, patch, direction, opts));
}

async function patchModel(
  m: SessionModel,
  patch: readonly PatchEntry[],
  direction: "apply" | "revert",
  opts: { otherWeights?: boolean; file?: string },
): Promise<string[]> {
  const weights = new Map<string, Float32Array>();
  for (const e of patch) {
    const p = m.model.params.get(e.name);
    if (p) weights.set(e.name, await p.value.toArray());
  }
  // Checks everything (throws naming the file and tensor) before the device is touched.
  const warnings = applyPatchTo(weights, patch, direction, opts);
  const changes = patch.map((e) => ({
    name: e.name,
    shape: e.shape,
    indices: Uint32Array.from(e.indices),
    before: e.before,
    after: e.after,
  }));
  writeChanges(m.model, changes, direction === "apply" ? "after" : "before");
  return warnings;
}
