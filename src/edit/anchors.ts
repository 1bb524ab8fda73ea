// Anchor prompts for locality terms (KNE's KL-to-unedited term): prompts whose predictions an
// edit should leave alone, built per edit from an anchor pool of requests (the model's anchor
// split by default), never from the evaluated probes:
// - other subjects: the pool's prompts, those asking the edited prompt's question first, and of
//   those the ones whose answer (groundTruth) is the edited fact's old one before the rest;
// - the edited subject's other facts: the pool's rephrased prompts with the edited subject
//   swapped in (as ROME keeps "{subject} is a" unchanged), in the pool's rephrase wording, so
//   they are not the canonical texts the metrics probe.
// A subject-swapped prompt that the unedited model answers like the edit prompt is a paraphrase
// of the edited fact, and is dropped; other subjects' prompts are kept whatever they answer (those
// that share the edited fact's answer, "Benin is a country in" beside Cabo Verde's, are the
// neighbours an edit most often moves). Any anchor whose text equals one of the request's
// evaluated prompts is dropped.

import { noGrad } from "../autograd/variable.ts";
import type { EditRequest } from "../io/requests.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";
import type { EditTarget } from "./method.ts";
import { argmaxRows } from "../tensor/ops.ts";
import { Tensor, tidyAsync } from "../tensor/tensor.ts";

export interface AnchorOptions {
  /** Most prompts taken from other subjects. */
  maxOther: number;
  /** Most subject-swapped prompts. */
  maxSubject: number;
}

export const ANCHOR_DEFAULTS: AnchorOptions = { maxOther: 48, maxSubject: 48 };

function evaluatedTexts(r: EditRequest): Set<string> {
  const probes = [...Object.values(r.portability), ...Object.values(r.locality)].flat();
  return new Set([r.prompt, ...r.rephrasePrompts, ...probes.map((p) => p.prompt)]);
}

/**
 * Argmax of the next token after each prompt (unedited model), in one padded batch whose head
 * runs only at each prompt's last position.
 */
async function nextTokens(model: CausalLM, prompts: number[][]): Promise<number[]> {
  if (prompts.length === 0) return [];
  const t = Math.max(...prompts.map((p) => p.length));
  const ids = prompts.flatMap((p) => [...p, ...new Array(t - p.length).fill(0)]);
  const last = prompts.map((p, i) => i * t + p.length - 1);
  const am = await tidyAsync(async () => {
    const be = model.backend;
    const logits = noGrad(() =>
      model.forward(
        Tensor.fromArray(be, ids, [prompts.length, t]),
        undefined,
        undefined,
        Tensor.fromArray(be, last, [last.length]),
      )
    );
    return await argmaxRows(logits.value).toArray();
  });
  return prompts.map((_, i) => am[i]);
}

/** An edit's anchor candidates, tokenised: other subjects' prompts and the subject-swapped ones. */
export interface AnchorCandidates {
  others: number[][];
  swapped: number[][];
}

/**
 * The anchor candidates of one edit, before the unedited model drops the swapped ones it answers
 * like the edit prompt: what buildAnchors starts from, and so an upper bound of its anchors that
 * the memory plan can count without a model.
 */
export function anchorCandidates(
  tok: Tokenizer,
  contextLength: number,
  pool: readonly EditRequest[],
  request: EditRequest,
  opts: AnchorOptions = ANCHOR_DEFAULTS,
): AnchorCandidates {
  const banned = evaluatedTexts(request);
  // Other subjects asked the edited prompt's own question first (its words with the subject
  // taken out), those with the edited fact's old answer before the rest: the neighbours an edit
  // of one relation most often overwrites.
  const question = (text: string, subject: string) => text.replace(subject, "\u0000");
  const asked = question(request.prompt, request.subject);
  const rank = (a: EditRequest) =>
    question(a.prompt, a.subject) !== asked
      ? 2
      : request.groundTruth !== undefined && a.groundTruth === request.groundTruth
      ? 0
      : 1;
  const pooled = pool.filter((a) => a.subject !== request.subject);
  // A stable sort: the pool's order within each rank.
  const others = pooled.map((a) => ({ a, r: rank(a) })).sort((x, y) => x.r - y.r)
    .map(({ a }) => a.prompt);
  const swapped = pool.flatMap((a) =>
    a.subject !== request.subject
      ? a.rephrasePrompts.filter((p) => p.includes(a.subject)).map((p) =>
        p.replace(a.subject, request.subject)
      )
      : []
  );
  const unk = tok.tokenToId("[UNK]");
  const encode = (texts: string[]) =>
    [...new Set(texts)].filter((t) => !banned.has(t)).map((t) => tok.encode(t)).filter((x) =>
      x.length > 0 && x.length <= contextLength && !x.includes(unk ?? -1)
    );
  return {
    others: encode(others.slice(0, opts.maxOther)),
    swapped: encode(swapped.slice(0, opts.maxSubject)),
  };
}

export async function buildAnchors(
  model: CausalLM,
  tok: Tokenizer,
  pool: readonly EditRequest[],
  request: EditRequest,
  editPrompt: number[],
  opts: AnchorOptions = ANCHOR_DEFAULTS,
): Promise<number[][]> {
  const { others, swapped } = anchorCandidates(
    tok,
    model.config.contextLength,
    pool,
    request,
    opts,
  );
  const [editNext, ...next] = await nextTokens(model, [editPrompt, ...swapped]);
  return [...others, ...swapped.filter((_, i) => next[i] !== editNext)];
}

/**
 * A made edit as locality anchors of the later edits of a sequence: one per target token, the
 * prompt and the target's tokens before it (each prefix's last position predicts that token).
 */
export function editAnchors(t: Pick<EditTarget, "promptIds" | "targetIds">): number[][] {
  return t.targetIds.map((_, k) => [...t.promptIds, ...t.targetIds.slice(0, k)]);
}
