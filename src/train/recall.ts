// Fact recall of a model on probes (prompt, answer), teacher forced: top-1 accuracy of the first
// answer token and of the whole answer (every answer token is the argmax), overall and per
// relation, and on request per phrasing and after a prefix put before every prompt. Probes are
// scored in padded batches with one forward each; a probe longer than the model's context is
// scored on its last context-length tokens (the metrics' sliding window), and one whose answer
// alone fills the context counts as not recalled.

import { noGrad } from "../autograd/variable.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";
import { argmaxRows } from "../tensor/ops.ts";
import { Tensor, tidyAsync } from "../tensor/tensor.ts";

export interface RecallProbe {
  prompt: string;
  answer: string;
  relation: string;
  /** The frame the prompt was made from ("{s}" for the subject), for the per-phrasing report. */
  phrasing?: string;
}

export interface RecallScore {
  n: number;
  firstToken: number;
  whole: number;
}

export interface RecallReport extends RecallScore {
  byRelation: Record<string, RecallScore>;
  /** Per phrasing, when asked for (a probe without one counts under ""). */
  byPhrasing?: Record<string, RecallScore>;
  /** The text put before every prompt, when there was one. */
  prefix?: string;
}

export interface RecallOptions {
  batchSize?: number;
  /** Text put before every probe's prompt (a leading space, an end-of-text token, a sentence). */
  prefix?: string;
  /** Also report each phrasing apart. */
  byPhrasing?: boolean;
}

export interface ProbeScore {
  /** The first answer token is the argmax. */
  first: boolean;
  /** Every answer token is the argmax (teacher forced). */
  whole: boolean;
}

/** Teacher-forced top-1 scores of each probe, in padded batches of one forward each. */
export async function scoreProbes(
  model: CausalLM,
  tok: Tokenizer,
  probes: readonly { prompt: string; answer: string }[],
  batchSize = 64,
): Promise<ProbeScore[]> {
  const out: ProbeScore[] = [];
  const ctx = model.config.contextLength;
  for (let b = 0; b < probes.length; b += batchSize) {
    const chunk = probes.slice(b, b + batchSize);
    const rows = chunk.map((p) => {
      const prompt = tok.encode(p.prompt);
      const full = tok.encode(`${p.prompt} ${p.answer}`);
      const cut = Math.max(0, full.length - 1 - ctx);
      // Where the answer's first prediction is read, after the cut (< 0: it cannot be read).
      const read = prompt.length - 1 - cut;
      return { read, answer: full.slice(prompt.length), ids: full.slice(cut, -1) };
    });
    const t = Math.max(...rows.map((r) => r.ids.length));
    const ids = rows.flatMap((r) => [...r.ids, ...new Array(t - r.ids.length).fill(0)]);
    const am = await tidyAsync(async () => {
      const logits = noGrad(() =>
        model.forward(Tensor.fromArray(model.backend, ids, [rows.length, t]))
      );
      return await argmaxRows(logits.value).toArray();
    });
    for (const [i, r] of rows.entries()) {
      const start = i * t + r.read;
      const scored = r.answer.length > 0 && r.read >= 0;
      const whole = scored && r.answer.every((a, j) => am[start + j] === a);
      out.push({ first: scored && am[start] === r.answer[0], whole });
    }
  }
  return out;
}

/** Totals of `scores` and the same per key (probe i's key is `keys[i]`), keys in sorted order. */
function tally(
  scores: readonly ProbeScore[],
  keys: readonly string[],
): RecallScore & { byKey: Record<string, RecallScore> } {
  const per = new Map<string, { n: number; first: number; whole: number }>();
  scores.forEach((sc, i) => {
    const s = per.get(keys[i]) ?? { n: 0, first: 0, whole: 0 };
    s.n++;
    s.first += sc.first ? 1 : 0;
    s.whole += sc.whole ? 1 : 0;
    per.set(keys[i], s);
  });
  const byKey: Record<string, RecallScore> = {};
  let n = 0, first = 0, whole = 0;
  for (const [key, s] of [...per].sort()) {
    byKey[key] = { n: s.n, firstToken: s.first / s.n, whole: s.whole / s.n };
    n += s.n;
    first += s.first;
    whole += s.whole;
  }
  return { n, firstToken: n ? first / n : 0, whole: n ? whole / n : 0, byKey };
}

export async function recall(
  model: CausalLM,
  tok: Tokenizer,
  probes: readonly RecallProbe[],
  opts: RecallOptions = {},
): Promise<RecallReport> {
  const prefix = opts.prefix ?? "";
  const prompted = probes.map((p) => ({ prompt: prefix + p.prompt, answer: p.answer }));
  const scores = await scoreProbes(model, tok, prompted, opts.batchSize);
  const { byKey, ...total } = tally(scores, probes.map((p) => p.relation));
  const report: RecallReport = { ...total, byRelation: byKey };
  if (opts.byPhrasing) report.byPhrasing = tally(scores, probes.map((p) => p.phrasing ?? "")).byKey;
  if (prefix !== "") report.prefix = prefix;
  return report;
}
