// KNE as an EditMethod: attribution, ensemble, masked update; artefacts are the ensemble
// (OUT/ensemble.json) and the attribution heatmap (OUT/attribution.svg).

import { contextPrefixes, prefixedRows } from "../edit/context-prefixes.ts";
import type { EditContext, EditMethod, EditTarget, MethodResult } from "../edit/method.ts";
import { heatmapSvg } from "../report/heatmap.ts";
import type { Attribution } from "./attribution.ts";
import { KNE_DEFAULTS, KNE_SCHEMA, type KneHparams } from "./hparams.ts";
import { kneEdit } from "./kne.ts";

/** Mean unit score per (layer, parameter group), the picture's grid. */
export function attributionGrid(
  attr: Attribution,
): { rows: string[]; cols: string[]; values: number[][] } {
  const layers = [...new Set(attr.tensors.map((t) => t.info.layer))].sort((a, b) => a - b);
  const groups = [...new Set(attr.tensors.map((t) => t.info.group))];
  const values = layers.map((l) =>
    groups.map((g) => {
      const ts = attr.tensors.filter((t) => t.info.layer === l && t.info.group === g);
      let s = 0, n = 0;
      for (const t of ts) for (const u of t.unitScores) (s += u, n++);
      return n ? s / n : 0;
    })
  );
  return { rows: layers.map((l) => `layer ${l}`), cols: groups, values };
}

export const kneMethod: EditMethod<KneHparams> = {
  name: "kne",
  description: "Knowledge Neuronal Ensemble (arXiv 2412.20637)",
  defaults: KNE_DEFAULTS,
  schema: KNE_SCHEMA,
  weightDtypes: ["auto", "f32", "f16"],
  usesAnchors: (hp) => hp.klWeight > 0,
  // The plan models KNE's phases: attribution (igSteps passes), and an update of at most
  // `steps` steps whose optimizer state is bounded by the ensemble's kept units.
  planWork: (rows, hp) => ({
    ...rows,
    // Context prefixes: each request's row again behind every prefix (a seed word, the sampled
    // tokens and a period; the word and the period are taken as at most 4 tokens).
    ...(hp.contextTemplates > 0
      ? {
        batch: rows.batch * (1 + hp.contextTemplates),
        seqLen: rows.seqLen + hp.templateTokens + 4,
        targetTokens: rows.targetTokens === undefined
          ? undefined
          : rows.targetTokens * (1 + hp.contextTemplates),
      }
      : {}),
    // One group of anchors is forwarded per step (bounded as one batch of the longest rows).
    klRows: hp.klAnchorsPerStep > 0 ? Math.min(rows.klRows ?? 0, hp.klAnchorsPerStep) : rows.klRows,
    klBatches: hp.klAnchorsPerStep > 0 ? undefined : rows.klBatches,
    // Every group's inputs and reference logits are held from before attribution to the end.
    klHeldBatches: hp.klAnchorsPerStep > 0 ? rows.klBatches : undefined,
    igSteps: hp.igSteps,
    updateSteps: hp.steps,
    ensemble: {
      topP: hp.topP,
      selection: hp.selection,
      perLayerK: hp.perLayerK,
      ffnUnit: hp.ffnUnit,
    },
  }),
  async apply(
    ctx: EditContext,
    targets: readonly EditTarget[],
    hp: KneHparams,
  ): Promise<MethodResult> {
    const prefixes = await contextPrefixes(
      ctx.model,
      ctx.tokenizer,
      hp.contextTemplates,
      hp.templateTokens,
      hp.templateSeed,
    );
    const context = ctx.model.config.contextLength;
    const r = await kneEdit(
      ctx.model,
      targets.flatMap((t) =>
        prefixedRows(t.row, prefixes, context, ctx.tokenizer.leadingIds.length)
      ),
      hp,
      ctx.localityPrompts,
      (p) => ctx.onProgress?.(p),
      ctx.attributionChunks,
      ctx.priorChanges,
    );
    const grid = attributionGrid(r.attribution);
    return {
      changes: r.changes,
      rolledBack: r.rolledBack,
      artifacts: {
        ensemble: {
          ...r.ensemble,
          ensembleParams: r.ensembleParams,
          targetProbBefore: r.attribution.targetProb,
          updateSteps: r.update.steps,
          attributionRounds: r.rounds,
          losses: r.update.losses,
        },
      },
      pictures: {
        "attribution.svg": heatmapSvg({
          title: "KNE attribution by layer",
          rows: grid.rows,
          cols: grid.cols,
          values: grid.values,
        }),
      },
      timings: { attribution: r.attribution.seconds, update: r.update.seconds },
    };
  },
};

/**
 * KNE as the paper describes it, by name: every attention and FFN projection scored by its
 * output units, the bare prompt, one attribution (the project's own choices, FFN-only scoring,
 * whole-neuron units, a layer floor, context prefixes, a dynamic ensemble and sparing units
 * earlier edits hold, cannot be set), so results of the paper's method and of kne can be told
 * apart.
 */
export const knePaperMethod: EditMethod<KneHparams> = {
  ...kneMethod,
  name: "kne-paper",
  description: "KNE with the paper's units: every projection, output units",
  schema: {
    ...KNE_SCHEMA,
    scoredGroups: { type: "string", choices: ["all"] },
    ffnUnit: { type: "string", choices: ["projection"] },
    fromLayer: { type: "integer", min: 0, max: 0 },
    contextTemplates: { type: "integer", min: 0, max: 0 },
    reattributeEvery: { type: "integer", min: 0, max: 0 },
    spareHeld: { type: "number", min: 0, max: 0 },
  },
};
