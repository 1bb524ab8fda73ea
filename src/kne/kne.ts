// KNE end to end for one edit (or one batch of edits): attribution -> ensemble -> masked
// update (with reattributeEvery, repeated in rounds on the model as edited so far: a dynamic
// ensemble), with a snapshot so that a diverged edit is rolled back and reported, and the exact
// changed entries returned for the sparse patch.

import type { TeacherForced } from "../edit/request.ts";
import { UnitSnapshot } from "../edit/snapshot.ts";
import { mergeChanges, type TensorChange } from "../io/patch.ts";
import type { CausalLM } from "../model/lm.ts";
import { attribute, type Attribution } from "./attribution.ts";
import {
  type Ensemble,
  ensembleParamCount,
  ensembleSelections,
  selectEnsemble,
  uncoveredSelections,
  unionEnsemble,
} from "./ensemble.ts";
import { heldUnits, spareHeldUnits } from "./held.ts";
import type { KneHparams } from "./hparams.ts";
import { freeAnchor, localityAnchors } from "./locality.ts";
import { maskedUpdate, type UpdateResult } from "./update.ts";

export interface KneProgress {
  phase: "attribution" | "update";
  step: number;
  of: number;
  loss?: number;
}

export interface KneResult {
  /** The first round's attribution (the unedited model's). */
  attribution: Attribution;
  /** Every unit any round selected (one round unless reattributeEvery). */
  ensemble: Ensemble;
  /** Attribution rounds run. */
  rounds: number;
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
  priorChanges: readonly (readonly TensorChange[])[] = [],
): Promise<KneResult> {
  // The anchors' reference logits are the unedited model's: taken before any update.
  const anchors = hp.klWeight > 0 && localityPrompts.length > 0
    ? localityAnchors(model, localityPrompts, hp.klAnchorsPerStep)
    : [];
  // One round without reattributeEvery; with it, a round per `reattributeEvery` update steps,
  // each attributing the model as edited so far and training the units it selects.
  const perRound = hp.reattributeEvery > 0 ? hp.reattributeEvery : hp.steps;
  // Only ensemble entries can change: each round snapshots the units no earlier round holds.
  const snapshots: UnitSnapshot[] = [];
  const covered = new Map<string, Set<number>>();
  let attribution: Attribution | undefined;
  let ensemble: Ensemble | undefined;
  let rounds = 0;
  let held: Set<number>[] | null | undefined;
  const update: UpdateResult = { steps: 0, losses: [], diverged: false, seconds: 0 };
  try {
    while (update.steps < hp.steps) {
      const round = await attribute(
        model,
        rows,
        hp,
        (step, of) => onProgress?.({ phase: "attribution", step, of }),
        attributionChunks,
      );
      // spareHeld: units earlier edits of a sequence changed score lower (the held sets are
      // the same every round: they come from the scored tensors and the prior changes only).
      held ??= hp.spareHeld > 0 ? heldUnits(round.tensors, priorChanges) : null;
      const selected = selectEnsemble(held ? spareHeldUnits(round, held, hp.spareHeld) : round, hp);
      attribution ??= round;
      rounds++;
      ensemble = ensemble ? unionEnsemble(ensemble, selected, hp.ffnUnit) : selected;
      const fresh = uncoveredSelections(ensembleSelections(selected), covered);
      snapshots.push(await UnitSnapshot.take(model, fresh));
      const done = update.steps;
      const r = await maskedUpdate(
        model,
        rows,
        selected,
        { ...hp, steps: Math.min(perRound, hp.steps - done) },
        anchors,
        (step, loss) => onProgress?.({ phase: "update", step: done + step, of: hp.steps, loss }),
        // The first round starts from the model the anchors were taken from.
        rounds === 1,
      );
      update.steps += r.steps;
      update.losses.push(...r.losses);
      update.seconds += r.seconds;
      update.diverged = r.diverged;
      const last = r.losses[r.losses.length - 1];
      if (r.diverged || r.steps === 0 || last < hp.earlyStopLoss) break;
    }
  } catch (e) {
    for (const s of snapshots) s.restore();
    throw e;
  } finally {
    for (const a of anchors.flat()) freeAnchor(a);
  }
  if (update.diverged) { for (const s of snapshots) s.restore(); }
  const changes = update.diverged
    ? []
    : mergeChanges(await Promise.all(snapshots.map((s) => s.changes())));
  return {
    attribution: attribution!,
    ensemble: ensemble!,
    ensembleParams: ensembleParamCount(ensemble!),
    rounds,
    update,
    changes,
    rolledBack: update.diverged,
  };
}
