// KNE end to end for one edit (or one batch of edits): attribution -> ensemble -> masked
// update, with a snapshot so that a diverged edit is rolled back and reported, and the exact
// changed entries returned for the sparse patch.

import type { TeacherForced } from "../edit/request.ts";
import { UnitSnapshot } from "../edit/snapshot.ts";
import type { TensorChange } from "../io/patch.ts";
import type { CausalLM } from "../model/lm.ts";
import { attribute, type Attribution } from "./attribution.ts";
import {
  type Ensemble,
  ensembleParamCount,
  ensembleSelections,
  selectEnsemble,
} from "./ensemble.ts";
import type { KneHparams } from "./hparams.ts";
import { freeAnchor, localityAnchors, maskedUpdate, type UpdateResult } from "./update.ts";

export interface KneProgress {
  phase: "attribution" | "update";
  step: number;
  of: number;
  loss?: number;
}

export interface KneResult {
  attribution: Attribution;
  ensemble: Ensemble;
  /** Parameter entries inside the ensemble (the most the edit may change). */
  ensembleParams: number;
  update: UpdateResult;
  /** Exact changed entries; empty when rolled back. */
  changes: TensorChange[];
  rolledBack: boolean;
}

export async function kneEdit(
  model: CausalLM,
  rows: readonly TeacherForced[],
  hp: KneHparams,
  localityPrompts: number[][] = [],
  onProgress?: (p: KneProgress) => void,
  attributionChunks = 1,
): Promise<KneResult> {
  const attribution = await attribute(
    model,
    rows,
    hp,
    (step, of) => onProgress?.({ phase: "attribution", step, of }),
    attributionChunks,
  );
  const ensemble = selectEnsemble(attribution, hp);
  // Only the ensemble's entries can change: the snapshot holds just those.
  const snapshot = await UnitSnapshot.take(model, ensembleSelections(ensemble));
  const anchors = hp.klWeight > 0 && localityPrompts.length > 0
    ? localityAnchors(model, localityPrompts, hp.klAnchorsPerStep)
    : [];
  let update: UpdateResult;
  try {
    update = await maskedUpdate(
      model,
      rows,
      ensemble,
      hp,
      anchors,
      (step, loss) => onProgress?.({ phase: "update", step, of: hp.steps, loss }),
    );
  } catch (e) {
    snapshot.restore();
    throw e;
  } finally {
    for (const a of anchors.flat()) freeAnchor(a);
  }
  if (update.diverged) snapshot.restore();
  return {
    attribution,
    ensemble,
    ensembleParams: ensembleParamCount(ensemble),
    update,
    changes: update.diverged ? [] : await snapshot.changes(),
    rolledBack: update.diverged,
  };
}
