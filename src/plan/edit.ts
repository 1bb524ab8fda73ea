// The memory plan of an edit, from its requests as token rows (what `deno task edit --plan` prints
// and what the page shows before an edit): the work the run forms (./work.ts) and what the method
// does with it (EditMethod.planWork), fitted to the backend's limits (./plan.ts); and, from a
// config alone, why a model's weights cannot even be loaded (the page, before reading a folder's).

import type { Backend, DType } from "../../engine/backend.ts";
import type { EditMethod, EditTarget, Hparams, WorkShape } from "../edit/method.ts";
import type { EditRequest } from "../io/requests.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { ModelConfig } from "../model/config.ts";
import { type BackendLimits, backendLimits, fitPlan, planProblems } from "./fit.ts";
import { formatPlan } from "./text.ts";
import { type MemoryPlan, planMemory } from "./plan.ts";
import { resolveWeightDtype } from "../model/dtype.ts";
import { workOf } from "./work.ts";

/** The work of an edit for the memory plan (editWork makes it, planEdit plans it). */
export interface EditWork {
  /** The rows the run forms (igSteps 1, no ensemble bound). */
  rows: WorkShape;
  /** What the method does with them; undefined: it does not plan its work (weights only). */
  work: WorkShape | undefined;
}

/** The work of editing `targets` with `method` in `mode`, anchors drawn from `pool`. */
export function editWork(
  method: EditMethod<Hparams>,
  hparams: Hparams,
  targets: readonly EditTarget[],
  pool: readonly EditRequest[],
  tokenizer: Tokenizer,
  config: ModelConfig,
  mode: string,
): EditWork {
  const kl = method.usesAnchors(hparams);
  const rows = workOf(targets, pool, tokenizer, config.contextLength, mode, kl);
  return { rows, work: method.planWork?.(rows, hparams) };
}

/** An edit's memory plan against a backend's limits (planEdit). */
export interface EditPlan {
  /** The plan chosen: the fastest that fits, else the smallest. */
  plan: MemoryPlan;
  /** The backend's and the host's limits it was checked against, read when planned. */
  limits: BackendLimits;
  /** The plan as text, with a line when the method does not plan its work. */
  text: string;
  /** Why it does not fit; empty when it does. */
  problems: string[];
}

/** The fastest plan of `w` that fits `backend` (else the smallest), as `--plan` reports it. */
export function planEdit(
  config: ModelConfig,
  method: EditMethod<Hparams>,
  w: EditWork,
  backend: Backend,
  weightDtype: DType,
): EditPlan {
  const limits = backendLimits(backend);
  const plan = fitPlan(
    config,
    { ...(w.work ?? w.rows), backend: backend.name, weightDtype },
    limits,
  );
  const text = formatPlan(plan, limits) +
    (w.work ? "" : `\n(${method.name} does not plan its work: its weights are checked)`);
  return { plan, limits, text, problems: planProblems(plan, limits, "edit") };
}

/**
 * Why `config`'s weights cannot be loaded on `backend` even with their matrices in the narrowest
 * dtype the backend keeps (a lower bound, since the files' dtypes are not read yet); empty when
 * they may fit.
 */
export function loadProblems(config: ModelConfig, backend: Backend): string[] {
  const weightDtype = resolveWeightDtype("auto", backend, ["F16"]);
  const plan = planMemory(config, {
    seqLen: 1,
    batch: 1,
    igSteps: 1,
    backend: backend.name,
    weightDtype,
  });
  return planProblems(plan, backendLimits(backend), "load");
}
