// Tokenises edit requests into EditTargets, refusing what cannot be edited or scored: an empty
// prompt, a text with unknown tokens, or prompt plus answer longer than the model's context, for
// the edit prompt and every pair the metrics score (src/eval/record.ts, counterfact.ts):
// rephrases with the new target, portability and locality probes with their answers, and for the
// CounterFact scores the prompt and rephrases with ground_truth and locality probes with
// target_new. A pair past the context would read positions the model does not have and score 0
// silently. Errors name the record and the field.

import type { EditRequest } from "../io/requests.ts";
import { promptWithAnswer, type Tokenizer } from "../io/tokenizer.ts";
import { unknownIds } from "./known-tokens.ts";
import type { EditTarget } from "./method.ts";
import { teacherForced } from "./request.ts";

/**
 * An edit's input cannot be edited or scored (an empty prompt, unknown words, past the context), or
 * is not what the library takes (a request, a method name, a mode, changes of another model);
 * names what is wrong.
 */
export class EditInputError extends Error {
  /** "EditInputError", which String(error) and the stack print before the message. */
  override name = "EditInputError";
}

function encodeField(
  tok: Tokenizer,
  unk: Set<number>,
  text: string,
  where: string,
): number[] {
  const ids = tok.encode(text);
  const bad = ids.findIndex((i) => unk.has(i));
  if (bad >= 0) {
    throw new EditInputError(`${where}: "${text}" contains words the tokenizer does not know`);
  }
  return ids;
}

/**
 * The request tokenised for editing and scoring (what editWork takes), with every check an edit
 * makes: an EditInputError names the record and field of an empty prompt or target, unknown words,
 * or a prompt and answer longer than the model's context (`contextLength`); `source` names the
 * model in messages.
 */
export function editTarget(
  request: EditRequest,
  tok: Tokenizer,
  contextLength: number,
  source: string,
): EditTarget {
  const where = (field: string) => `${source}: record ${request.index}: field ${field}`;
  if (request.prompt.trim() === "") {
    throw new EditInputError(`${where("prompt")}: the prompt is empty`);
  }
  if (request.targetNew.trim() === "") {
    throw new EditInputError(`${where("target_new")}: the new target is empty`);
  }
  const unk = unknownIds(tok);
  const promptIds = encodeField(tok, unk, request.prompt, where("prompt"));
  const full = encodeField(
    tok,
    unk,
    promptWithAnswer(request.prompt, request.targetNew),
    where("target_new"),
  );
  const prefixOk = promptIds.every((id, i) => full[i] === id);
  if (!prefixOk || full.length <= promptIds.length) {
    throw new EditInputError(
      `${where("target_new")}: the prompt's tokens are not a prefix of prompt + target`,
    );
  }
  const targetIds = full.slice(promptIds.length);
  const probe = (prompt: string, answer: string, field: string) => {
    if (prompt.trim() === "") throw new EditInputError(`${where(field)}: the prompt is empty`);
    const p = encodeField(tok, unk, prompt, where(field));
    const f = encodeField(tok, unk, promptWithAnswer(prompt, answer), where(field));
    if (!p.every((id, i) => f[i] === id) || f.length <= p.length) {
      throw new EditInputError(
        `${where(field)}: the prompt's tokens are not a prefix of ` +
          `prompt + answer`,
      );
    }
    if (f.length - 1 > contextLength) {
      throw new EditInputError(
        `${where(field)}: prompt plus answer is ${f.length - 1} tokens as the model reads it, ` +
          `longer than the model's context of ${contextLength} tokens`,
      );
    }
  };
  request.rephrasePrompts.forEach((r, i) => probe(r, request.targetNew, `rephrase_prompt[${i}]`));
  for (const group of ["portability", "locality"] as const) {
    for (const [kind, probes] of Object.entries(request[group])) {
      probes.forEach((p, i) => probe(p.prompt, p.answer, `${group}.${kind}[${i}]`));
    }
  }
  // The CounterFact scores compare whole answers: ground_truth after the prompt and each
  // rephrase (efficacy, paraphrase), target_new after each locality probe (neighborhood).
  const truth = request.groundTruth;
  if (truth !== undefined && truth !== request.targetNew) {
    probe(request.prompt, truth, "ground_truth");
    request.rephrasePrompts.forEach((r, i) =>
      probe(r, truth, `rephrase_prompt[${i}] with ground_truth`)
    );
  }
  for (const [kind, probes] of Object.entries(request.locality)) {
    probes.forEach((p, i) => {
      if (p.answer !== request.targetNew) {
        probe(p.prompt, request.targetNew, `locality.${kind}[${i}] with target_new`);
      }
    });
  }
  try {
    return {
      request,
      promptIds,
      targetIds,
      row: teacherForced(promptIds, targetIds, contextLength),
    };
  } catch (e) {
    throw new EditInputError(`${where("target_new")}: ${(e as Error).message}`);
  }
}
