// What ROME and MEMIT gather before their value search: the context prefixes and the FFN key
// statistics of the edited layers (every request prompt among the keys), timed by phase; and
// the small helpers both read their keys and report them with.

import { contextPrefixes } from "../../edit/context-prefixes.ts";
import type { EditContext, EditTarget } from "../../edit/method.ts";
import type { EditRequest } from "../../io/requests.ts";
import { keyCovariance, type KeyMoment } from "../covariance.ts";
import type { CovHparams, ValueHparams } from "./hparams.ts";

/** Seconds per phase of a ROME or MEMIT edit, as MethodResult.timings reports them. */
export type RomeTimings = { covariance: number; templates: number; value: number; update: number };

/** Timings at zero and `lap(phase)`, which adds the time since the last lap to that phase. */
export function phaseClock(): { timings: RomeTimings; lap: (phase: keyof RomeTimings) => void } {
  const timings: RomeTimings = { covariance: 0, templates: 0, value: 0, update: 0 };
  let t = performance.now();
  const lap = (phase: keyof RomeTimings) => {
    const now = performance.now();
    timings[phase] += (now - t) / 1000;
    t = now;
  };
  return { timings, lap };
}

/**
 * The context prefixes (ROME's context templates) and the key statistics of `layers`, the
 * targets' prompts after each prefix among the keys; `method` names the progress phase.
 */
export async function keyStatistics(
  ctx: EditContext,
  targets: readonly EditTarget[],
  hp: ValueHparams & CovHparams,
  layers: readonly number[],
  method: string,
  lap: (phase: keyof RomeTimings) => void,
): Promise<{ prefixes: number[][]; covs: Map<number, KeyMoment> }> {
  const { model, tokenizer: tok } = ctx;
  const prefixes = await contextPrefixes(
    model,
    tok,
    hp.contextTemplates,
    hp.templateTokens,
    hp.templateSeed,
  );
  lap("templates");
  const covs = await keyCovariance(model, tok, layers, {
    texts: hp.covTexts,
    maxTexts: hp.covSamples,
    prompts: requestPrompts(targets.map((x) => x.request)),
    promptSeqs: targets.flatMap((x) => prefixes.map((p) => [...p, ...x.promptIds])),
    onProgress: (step, of) => ctx.onProgress?.({ phase: `${method} covariance`, step, of }),
  });
  lap("covariance");
  return { prefixes, covs };
}

/** Mean of row vectors. */
export function meanRows(rows: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(rows[0].length);
  for (const r of rows) for (let i = 0; i < r.length; i++) out[i] += r[i];
  for (let i = 0; i < out.length; i++) out[i] /= rows.length;
  return out;
}

/** Every prompt of the requests (prompts, rephrases, probes): the "prompts" key statistics. */
export function requestPrompts(requests: readonly EditRequest[]): string[] {
  return requests.flatMap((r) => [
    r.prompt,
    ...r.rephrasePrompts,
    ...Object.values(r.portability).flat().map((p) => p.prompt),
    ...Object.values(r.locality).flat().map((p) => p.prompt),
  ]);
}

/** A layer's key statistics as the artefacts report them. */
export function covarianceInfo(m: KeyMoment, damping: number): Record<string, unknown> {
  return {
    layer: m.layer,
    source: m.source,
    texts: m.texts,
    keys: m.count,
    cachedOnDisk: m.cached,
    file: m.file,
    damping,
  };
}
