// The check of a model folder before any weight is read: its config and the safetensors headers
// give the memory plan, and a model that cannot fit is refused with what it needs and what the
// machine has (ResourceError).

import type { Backend, DType } from "../../engine/backend.ts";
import type { WorkShape } from "../edit/method.ts";
import { openCheckpoint } from "../io/checkpoint.ts";
import type { SafetensorsFile } from "../io/safetensors.ts";
import { resolveWeightDtype, type WeightDtype } from "../model/dtype.ts";
import { readModelConfig } from "../model/read-config.ts";
import {
  type BackendLimits,
  backendLimits,
  fitPlan,
  planProblems,
  ResourceError,
} from "../plan/fit.ts";
import { type MemoryPlan, planMemory } from "../plan/plan.ts";

/** The stored dtypes of a checkpoint's 2-D tensors (its weight matrices). */
function matrixDtypes(file: SafetensorsFile): string[] {
  return [...file.tensors.values()].filter((t) => t.shape.length === 2).map((t) => t.dtype);
}

/**
 * The device dtype `want` gives the matrices of the checkpoint in `dir` on `backend`, from the
 * header alone (for --plan, which does not load).
 */
export async function weightDtypeFor(
  dir: string,
  backend: Backend,
  want: WeightDtype,
): Promise<DType> {
  if (want !== "auto") return resolveWeightDtype(want, backend, []);
  const file = await openCheckpoint(dir);
  try {
    return resolveWeightDtype(want, backend, matrixDtypes(file));
  } finally {
    file.close();
  }
}

export interface CheckResult {
  plan: MemoryPlan;
  limits: BackendLimits;
  /** Tensors and bytes the checkpoint stores (as its headers declare; all shards together). */
  file: { tensors: number; bytes: number };
  /** The checkpoint, open: the caller reads the weights from it and closes it. */
  checkpoint: SafetensorsFile;
}

/** Default work for a load-only check: one row of the full context. */
const LOAD_WORK: WorkShape = { seqLen: 1, batch: 1, igSteps: 1 };

/**
 * Reads `<dir>/config.json` and the checkpoint's headers (no tensor data), plans the memory and
 * throws ResourceError naming what is needed and what is available when the model does not fit
 * `backend`: the weights alone when `work` is absent, the whole edit when it is given. Config and
 * file errors are the usual ConfigError / ModelFileError. The checkpoint is left open for the
 * load that follows (`checkpoint`, so its headers are read once), which closes it; on an error it
 * is closed here.
 */
export async function checkBeforeLoad(
  dir: string,
  backend: Backend,
  work?: WorkShape,
  dtype: WeightDtype = "auto",
): Promise<CheckResult> {
  const config = await readModelConfig(dir);
  const checkpoint = await openCheckpoint(dir);
  try {
    let bytes = 0;
    const tensors = checkpoint.tensors.size;
    for (const t of checkpoint.tensors.values()) bytes += t.end - t.begin;
    const weightDtype = resolveWeightDtype(dtype, backend, matrixDtypes(checkpoint));
    const limits = backendLimits(backend);
    const opts = { ...(work ?? LOAD_WORK), backend: backend.name, weightDtype };
    const plan = work ? fitPlan(config, opts, limits) : planMemory(config, opts);
    const problems = planProblems(plan, limits, work ? "edit" : "load");
    if (problems.length > 0) {
      throw new ResourceError(
        `${dir}: ${config.hfClass} with ${
          plan.params.total.toLocaleString("en-US")
        } parameters does not fit ${limits.description}:\n  - ${problems.join("\n  - ")}\n` +
          `(checked before reading any weight; \`deno task edit --plan\` prints the full plan)`,
        plan,
        limits,
      );
    }
    return { plan, limits, file: { tensors, bytes }, checkpoint };
  } catch (e) {
    checkpoint.close();
    throw e;
  }
}
