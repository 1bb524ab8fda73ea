// Test helpers for KNE on the tiny GPT-2 fixture: hyperparameters that edit it in a few steps, an
// edit target from a prompt and answer, and whether the model greedily predicts a target.

import type { EditTarget } from "../../src/edit/method.ts";
import { editTarget } from "../../src/edit/targets.ts";
import { validateRequests } from "../../src/io/requests.ts";
import { KNE_DEFAULTS, type KneHparams } from "../../src/kne/hparams.ts";
import type { LoadedModel } from "../../src/model/load.ts";
import { noGrad } from "../../src/autograd/variable.ts";
import { argmaxRows } from "../../src/tensor/ops.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";

export const TINY_GPT2 = new URL("../fixtures/tiny-gpt2", import.meta.url).pathname;

export const TINY_HP: KneHparams = {
  ...KNE_DEFAULTS,
  igSteps: 2,
  topP: 0.05,
  lr: 0.02,
  steps: 100,
  earlyStopLoss: 0.01,
};

export function target(m: LoadedModel, prompt: string, answer: string): EditTarget {
  const [req] = validateRequests([{ subject: prompt, prompt, target_new: answer }], "test");
  return editTarget(req, m.tokenizer!, m.model.config.contextLength, "test");
}

/** Whether the model's greedy next tokens after the prompt are the target's tokens. */
export async function predicts(m: LoadedModel, t: EditTarget): Promise<boolean> {
  const ids = t.row.ids;
  const am = await tidyAsync(async () =>
    await argmaxRows(
      noGrad(() => m.model.forward(Tensor.fromArray(m.model.backend, ids, [1, ids.length]))).value,
    ).toArray()
  );
  return t.targetIds.every((tok, j) => am[t.promptIds.length - 1 + j] === tok);
}
