// Evaluate one edit request (KnowEdit style): Edit Succ., Generalization, Portability,
// Locality and Fluency of the edited model, with locality measured against the unedited one.
//
// Per record (all scores in [0, 1]; tables multiply the means over records by 100, see
// ./aggregate.ts):
//   editSucc        tokenAccuracy(prompt, target_new)
//   generalization  mean over rephrase prompts of tokenAccuracy(rephrase, target_new)
//   portability     mean over probe kinds of (mean over that kind's probes of
//                   tokenAccuracy(probe.prompt, probe.answer)) -- EasyEdit's KnowEdit summary:
//                   average within a kind, then over the kinds of the record
//   locality        the same two-level mean of localityScore(tokens before, tokens after)
//   fluency         weighted n-gram entropy of a top-k sample from the prompt (./fluency.ts)
//   efficacy, paraphrase, neighborhood   the CounterFact scores (./counterfact.ts)
// A metric with no probes (no rephrase prompts, no portability/locality probes, a kind whose list
// is empty) is absent from the result -- never NaN -- and left out of the means.
//
// The edited model is usually the unedited one with its weights changed in place, so locality
// is two-phase: call localityBaseline(model, request) BEFORE editing, then evaluateRecord(...,
// {baseline}) after; or pass {before} when the two models are distinct objects.

import { localityScore, localityTokens, tokenAccuracy } from "./accuracy.ts";
import { counterfactRecord } from "./counterfact.ts";
import { fluency, type FluencyOptions } from "./fluency.ts";
import type { EvalModel } from "./model.ts";
import type { EditRequest, Probe } from "../io/requests.ts";

/**
 * One request's metrics after its edit, each in [0, 1] (fluency in bits) and absent when the
 * request has no probes for it; the command line's tables show their means x100.
 */
export interface RecordMetrics {
  /** Edit Succ.: teacher-forced token accuracy of target_new after the prompt. */
  editSucc: number;
  /** The same accuracy after each rephrase prompt, averaged over them. */
  generalization?: number;
  /** Token accuracy of each portability probe's answer, averaged per kind, then over kinds. */
  portability?: number;
  /**
   * Fraction of each locality probe's answer tokens whose argmax the edit left unchanged,
   * averaged per kind, then over kinds.
   */
  locality?: number;
  /** Weighted n-gram entropy in bits (not x100). */
  fluency?: number;
  /** CounterFact scores in [0, 1] (./counterfact.ts). */
  efficacy?: number;
  /** Fraction of rephrase prompts where P(target_new) > P(ground_truth) (needs ground_truth). */
  paraphrase?: number;
  /** Fraction of locality probes whose own answer still beats target_new. */
  neighborhood?: number;
  /** Per probe kind (kinds with at least one probe). */
  portabilityByKind?: Record<string, number>;
  /** Locality per probe kind (kinds with at least one probe). */
  localityByKind?: Record<string, number>;
  /** The text fluency was measured on. */
  fluencyText?: string;
}

/** Unedited argmax tokens at each locality probe's answer positions: kind -> probe -> tokens. */
export type LocalityBaseline = Record<string, number[][]>;

/** Record (before editing) the tokens locality compares against. */
export async function localityBaseline(
  before: EvalModel,
  request: EditRequest,
): Promise<LocalityBaseline> {
  const kinds = Object.entries(request.locality);
  // Every probe asked at once: the model may run them as one batch.
  const tokens = await Promise.all(
    kinds.map(([, probes]) =>
      Promise.all(probes.map((p) => localityTokens(before, p.prompt, p.answer)))
    ),
  );
  const out: LocalityBaseline = {};
  kinds.forEach(([kind], k) => setKey(out, kind, tokens[k]));
  return out;
}

export interface EvaluateOptions {
  /** Locality tokens recorded before the edit (see localityBaseline). */
  baseline?: LocalityBaseline;
  /** The unedited model, when it is a different object from the edited one. */
  before?: EvalModel;
  /** Fluency sampling options (seed, length...); false skips fluency. Default {} (seed 0). */
  fluency?: FluencyOptions | false;
}

function mean(xs: number[]): number | undefined {
  return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function setKey<V>(o: Record<string, V>, k: string, v: V): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** Mean over kinds of the mean over each kind's probes; kinds without probes are skipped. */
async function twoLevel(
  groups: Record<string, Probe[]>,
  score: (kind: string, probe: Probe, i: number) => Promise<number>,
): Promise<{ value?: number; byKind?: Record<string, number> }> {
  const kinds = Object.entries(groups);
  const scores = await Promise.all(
    kinds.map(([kind, probes]) => Promise.all(probes.map((p, i) => score(kind, p, i)))),
  );
  const byKind: Record<string, number> = {};
  let any = false;
  kinds.forEach(([kind], k) => {
    const m = mean(scores[k]);
    if (m !== undefined) {
      setKey(byKind, kind, m);
      any = true;
    }
  });
  if (!any) return {};
  return { value: mean(Object.values(byKind)), byKind };
}

/** Evaluate one request on the edited model (see the file comment for the definitions). */
export async function evaluateRecord(
  request: EditRequest,
  after: EvalModel,
  opts: EvaluateOptions = {},
): Promise<RecordMetrics> {
  const nLoc = Object.values(request.locality).reduce((a, ps) => a + ps.length, 0);
  let baseline = opts.baseline;
  if (nLoc > 0 && !baseline) {
    if (!opts.before) {
      throw new Error(
        `record ${request.index}: locality needs the unedited model's tokens: pass baseline ` +
          "(localityBaseline before editing) or before",
      );
    }
    baseline = await localityBaseline(opts.before, request);
  }
  const base = baseline ?? {};
  // Every probe of the record asked at once: the model may run them as a few batches.
  const [editSucc, gen, port, loc, cf] = await Promise.all([
    tokenAccuracy(after, request.prompt, request.targetNew),
    Promise.all(request.rephrasePrompts.map((r) => tokenAccuracy(after, r, request.targetNew))),
    twoLevel(request.portability, (_k, p) => tokenAccuracy(after, p.prompt, p.answer)),
    nLoc === 0 ? null : twoLevel(request.locality, async (kind, p, i) => {
      const b = Object.prototype.hasOwnProperty.call(base, kind) ? base[kind][i] : undefined;
      if (!b) {
        throw new Error(
          `record ${request.index}: locality baseline has no tokens for ${kind}[${i}]`,
        );
      }
      return localityScore(b, await localityTokens(after, p.prompt, p.answer));
    }),
    counterfactRecord(after, request),
  ]);
  const out: RecordMetrics = { editSucc };
  const g = mean(gen);
  if (g !== undefined) out.generalization = g;
  if (port.value !== undefined) {
    out.portability = port.value;
    out.portabilityByKind = port.byKind;
  }
  if (loc) {
    out.locality = loc.value;
    out.localityByKind = loc.byKind;
  }
  Object.assign(out, cf);

  if (opts.fluency !== false) {
    const f = await fluency(after, request.prompt, opts.fluency ?? {});
    out.fluency = f.entropy;
    out.fluencyText = f.text;
  }
  return out;
}
