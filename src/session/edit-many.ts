// Several requests edited in memory, as `deno task edit --mode batch|sequential` edits them
// (src/pipeline/run.ts), without files: batch applies the method once to all of them; sequential
// applies it to one after another on the model the earlier edits left, KNE's KL term anchored
// also on the earlier edits' prompts and targets. Every request's locality baseline comes from
// the model before the first edit, as EasyEdit measures it; a sequence also reports the Edit
// Succ. of every edit after the last one. The changes are returned merged (before: the model
// before the first edit; after: after the last), so one revert restores it bit for bit and one
// patch holds them all.

import { buildAnchors, editAnchors } from "../edit/anchors.ts";
import { evalModel } from "../edit/eval-model.ts";
import type { EditTarget, Hparams, MethodResult } from "../edit/method.ts";
import { editTarget } from "../edit/targets.ts";
import { tokenAccuracy } from "../eval/accuracy.ts";
import { evaluateRecord, localityBaseline, type RecordMetrics } from "../eval/record.ts";
import { mergeChanges, type TensorChange } from "../io/patch.ts";
import { type EditRequest, parseHparams } from "../io/requests.ts";
import { methodByName } from "../methods/registry.ts";
import { complete, type EditOptions } from "./edit.ts";
import type { SessionModel } from "./load.ts";

export type ManyMode = "batch" | "sequential";

export interface ManyRecord {
  request: EditRequest;
  before: { editSucc: number; completion: string };
  after: { completion: string };
  /** The request's metrics right after its edit (batch: after the one edit of all). */
  metrics: RecordMetrics;
  rolledBack: boolean;
}

export interface ManyOutcome {
  method: string;
  hparams: Hparams;
  mode: ManyMode;
  records: ManyRecord[];
  /** Sequential: the Edit Succ. of every request after the last edit (retention). */
  endEditSucc?: number[];
  /** All the edits' changes merged; they are applied to the model when editMany() returns. */
  changes: TensorChange[];
  /** Wall seconds of the method's applies alone. */
  seconds: number;
}

/** Edits `m.model` in place with `requests` in `mode`; revertChanges(changes) undoes it all. */
export async function editMany(
  m: SessionModel,
  requests: readonly EditRequest[],
  opts: EditOptions & { mode: ManyMode },
): Promise<ManyOutcome> {
  const method = methodByName(opts.method ?? "kne");
  const hp = parseHparams(opts.hparams ?? {}, method.defaults, method.schema, "hparams");
  const targets = requests.map((r) => editTarget(r, m.tokenizer, m.config.contextLength, m.source));
  const em = evalModel(m.model, m.tokenizer);
  const n = opts.completionTokens ?? 8;
  const pool = opts.anchorPool ?? [];
  const usesAnchors = pool.length > 0 && method.usesAnchors(hp);
  const anchorsOf = async (t: EditTarget) =>
    usesAnchors ? await buildAnchors(m.model, m.tokenizer, pool, t.request, t.promptIds) : [];
  let seconds = 0;
  const all: TensorChange[][] = [];
  const beforeOf = async (r: EditRequest) => ({
    editSucc: await tokenAccuracy(em, r.prompt, r.targetNew),
    completion: await complete(m, r.prompt, n),
  });
  const apply = async (ts: EditTarget[], localityPrompts: number[][]): Promise<MethodResult> => {
    const t0 = performance.now();
    const result = await method.apply(
      { model: m.model, tokenizer: m.tokenizer, localityPrompts, onProgress: opts.onProgress },
      ts,
      hp,
    );
    seconds += (performance.now() - t0) / 1000;
    all.push(result.changes);
    return result;
  };
  const baselines: Awaited<ReturnType<typeof localityBaseline>>[] = [];
  for (const r of requests) baselines.push(await localityBaseline(em, r));
  const records: ManyRecord[] = [];
  const scored = async (i: number, before: ManyRecord["before"], rolledBack: boolean) => {
    const request = requests[i];
    const metrics = await evaluateRecord(request, em, { baseline: baselines[i], fluency: false });
    const after = { completion: await complete(m, request.prompt, n) };
    records.push({ request, before, after, metrics, rolledBack });
  };
  if (opts.mode === "batch") {
    const befores = [];
    const anchors: number[][] = [];
    for (const t of targets) {
      befores.push(await beforeOf(t.request));
      anchors.push(...await anchorsOf(t));
    }
    const result = await apply(targets, anchors);
    for (let i = 0; i < targets.length; i++) await scored(i, befores[i], result.rolledBack);
  } else {
    // Earlier edits (each prefix of prompt + target) anchor the KL term, so they are kept.
    const edited: number[][] = [];
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i];
      const before = await beforeOf(t.request);
      const anchors = [...await anchorsOf(t), ...(usesAnchors ? edited : [])];
      const result = await apply([t], anchors);
      await scored(i, before, result.rolledBack);
      edited.push(...editAnchors(t));
    }
  }
  let endEditSucc: number[] | undefined;
  if (opts.mode === "sequential") {
    endEditSucc = [];
    for (const r of requests) endEditSucc.push(await tokenAccuracy(em, r.prompt, r.targetNew));
  }
  return {
    method: method.name,
    hparams: hp,
    mode: opts.mode,
    records,
    endEditSucc,
    changes: mergeChanges(all),
    seconds,
  };
}
