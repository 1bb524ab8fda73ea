// Teacher-forced token accuracy (Edit Succ., Generalization, Portability) and the locality
// token comparison, computed as EasyEdit's test_prediction_acc does (KnowEdit style).
//
// How prompt and target tokens are split: the model reads ids = encode(prompt + " " + target)
// (promptWithAnswer: no second space when the target brings its own, " Rome").
// The prompt's tokens are encode(prompt); they must be a prefix of ids (a TokenizationError
// otherwise: the target would not be a clean continuation and the positions would be
// ambiguous). The target tokens are the rest, ids[P..n-1] with P = encode(prompt).length; with
// GPT-2 BPE that is encode(" " + target), the space attached to the first target word. The
// prediction for target token ids[i] is the argmax at the preceding position i-1, so the scored
// positions are P-1..n-2 (EasyEdit's slice [prompt_len-1 : -1] against labels [prompt_len:]).
// The prompt must produce at least one token (a BOS counts) and the target at least one token.

import { promptWithAnswer } from "../io/tokenizer.ts";
import { type EvalModel, TokenizationError } from "./model.ts";

/** The tokens of prompt + " " + target and where the target begins. */
export interface PromptTarget {
  /** encode(prompt + " " + target). */
  ids: number[];
  /** Number of prompt tokens P: target tokens are ids[P..]. */
  promptLength: number;
}

function describe(ids: number[]): string {
  return ids.length > 12 ? `[${ids.slice(0, 12).join(", ")}, ...]` : `[${ids.join(", ")}]`;
}

/** Tokenise prompt + " " + target and locate the target tokens (see the file comment). */
export function splitPromptTarget(model: EvalModel, prompt: string, target: string): PromptTarget {
  const text = promptWithAnswer(prompt, target);
  const ids = model.encode(text);
  const promptIds = model.encode(prompt);
  const P = promptIds.length;
  if (P === 0) {
    throw new TokenizationError(
      `prompt ${
        JSON.stringify(prompt)
      } encodes to no tokens: nothing predicts the first target token`,
    );
  }
  const isPrefix = P <= ids.length && promptIds.every((t, i) => ids[i] === t);
  if (!isPrefix) {
    throw new TokenizationError(
      `the tokens of prompt ${JSON.stringify(prompt)} ${describe(promptIds)} are not a prefix of ` +
        `the tokens of ${JSON.stringify(text)} ${describe(ids)}`,
    );
  }
  if (ids.length === P) {
    throw new TokenizationError(
      `target ${JSON.stringify(target)} adds no tokens after prompt ${JSON.stringify(prompt)}`,
    );
  }
  return { ids, promptLength: P };
}

async function predictionsAtTarget(model: EvalModel, pt: PromptTarget): Promise<number[]> {
  const am = await model.argmaxes(pt.ids);
  if (am.length !== pt.ids.length) {
    throw new RangeError(`argmaxes returned ${am.length} positions for ${pt.ids.length} ids`);
  }
  return am.slice(pt.promptLength - 1, pt.ids.length - 1);
}

/**
 * Teacher-forced accuracy of target after prompt: the fraction of target tokens whose argmax
 * prediction at the preceding position equals the token. In [0, 1].
 */
export async function tokenAccuracy(
  model: EvalModel,
  prompt: string,
  target: string,
): Promise<number> {
  const pt = splitPromptTarget(model, prompt, target);
  const pred = await predictionsAtTarget(model, pt);
  let hits = 0;
  for (let j = 0; j < pred.length; j++) if (pred[j] === pt.ids[pt.promptLength + j]) hits++;
  return hits / pred.length;
}

/**
 * The argmax tokens at the answer positions of prompt + " " + answer (teacher forced): store
 * them from the unedited model and compare with {@link localityScore} after the edit.
 */
export async function localityTokens(
  model: EvalModel,
  prompt: string,
  answer: string,
): Promise<number[]> {
  return await predictionsAtTarget(model, splitPromptTarget(model, prompt, answer));
}

/** Fraction of answer positions whose argmax token is unchanged by the edit. In [0, 1]. */
export function localityScore(before: number[], after: number[]): number {
  if (before.length !== after.length) {
    throw new RangeError(
      `locality: ${before.length} tokens before the edit but ${after.length} after`,
    );
  }
  if (before.length === 0) throw new RangeError("locality: no answer tokens to compare");
  let same = 0;
  for (let i = 0; i < before.length; i++) if (before[i] === after[i]) same++;
  return same / before.length;
}
