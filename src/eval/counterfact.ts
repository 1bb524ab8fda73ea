// The CounterFact scores of one edit (ROME/MEMIT papers, shared/REALISM.md section 3), beside the
// KnowEdit ones. Whole answers are compared as sums of teacher-forced token log-probabilities
// (prompt + " " + answer, as ./accuracy.ts splits them), so a multi-token answer counts as a
// whole, not by its first token. Per record, in [0, 1]:
//   efficacy      1 when P(target_new | prompt) > P(ground_truth | prompt) after the edit
//   paraphrase    the same on each rephrase prompt, averaged over the record's rephrases
//   neighborhood  over the record's locality probes (every kind): the fraction where the probe's
//                 own answer still beats target_new, P(answer | probe) > P(target_new | probe)
//                 (CounterFact's neighbourhood prompts are other subjects sharing the true
//                 answer; here they are whatever locality probes the request carries, each
//                 compared with its own answer; a probe whose answer is target_new is skipped)
// Efficacy and paraphrase need ground_truth; a request without it has neither (absent, not 0).
// The table's Score is the harmonic mean of the three means (./aggregate.ts).

import { splitPromptTarget } from "./accuracy.ts";
import type { EvalModel } from "./model.ts";
import type { EditRequest } from "../io/requests.ts";

/** log P(answer | prompt): the sum of the answer tokens' teacher-forced log-probabilities. */
export async function answerLogProb(
  model: EvalModel,
  prompt: string,
  answer: string,
): Promise<number> {
  const pt = splitPromptTarget(model, prompt, answer);
  const lp = await model.tokenLogProbs(pt.ids);
  let s = 0;
  for (let i = pt.promptLength - 1; i < pt.ids.length - 1; i++) s += lp[i];
  return s;
}

export interface CounterFactMetrics {
  efficacy?: number;
  paraphrase?: number;
  neighborhood?: number;
}

const mean = (xs: number[]) =>
  xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;

/** `a` is more likely than `b` after `prompt` (whole answers). */
async function beats(model: EvalModel, prompt: string, a: string, b: string): Promise<number> {
  const [la, lb] = await Promise.all([
    answerLogProb(model, prompt, a),
    answerLogProb(model, prompt, b),
  ]);
  return la > lb ? 1 : 0;
}

export async function counterfactRecord(
  after: EvalModel,
  request: EditRequest,
): Promise<CounterFactMetrics> {
  const out: CounterFactMetrics = {};
  const truth = request.groundTruth;
  const target = request.targetNew;
  const scored = truth !== undefined && truth !== target;
  // Every comparison asked at once: the model may run them as a few batches.
  const neighbors = Object.values(request.locality).flat().filter((p) => p.answer !== target);
  const [efficacy, p, n] = await Promise.all([
    scored ? beats(after, request.prompt, target, truth) : null,
    scored ? Promise.all(request.rephrasePrompts.map((r) => beats(after, r, target, truth))) : [],
    Promise.all(neighbors.map((probe) => beats(after, probe.prompt, probe.answer, target))),
  ]);
  if (efficacy !== null) {
    out.efficacy = efficacy;
    const pm = mean(p);
    if (pm !== undefined) out.paraphrase = pm;
  }
  const nm = mean(n);
  if (nm !== undefined) out.neighborhood = nm;
  return out;
}
