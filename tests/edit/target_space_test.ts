// A target or answer written with its own leading space (" Rome", as GPT-2-era data and ROME's
// examples write them) means the one space between prompt and answer: the edit, the metrics and
// the trace read it as "Rome". Joining with a second space taught "  Rome" (the model answered
// "is  Rome.") and traced p = 0 for " Paris". Space after the answer is dropped the same way.

import assert from "node:assert/strict";
import { editTarget } from "../../src/edit/targets.ts";
import { splitPromptTarget } from "../../src/eval/accuracy.ts";
import type { EvalModel } from "../../src/eval/model.ts";
import { validateRequests } from "../../src/io/requests.ts";
import { loadTokenizer, promptWithAnswer } from "../../src/io/tokenizer.ts";

const BASE = new URL("../../models/kne-facts-base", import.meta.url).pathname;
const PROMPT = "The capital of France is";

Deno.test("promptWithAnswer adds a space only where the answer has none", () => {
  assert.equal(promptWithAnswer(PROMPT, "Rome"), `${PROMPT} Rome`);
  assert.equal(promptWithAnswer(PROMPT, " Rome"), `${PROMPT} Rome`);
  assert.equal(promptWithAnswer(PROMPT, "\nRome"), `${PROMPT}\nRome`);
  // Trailing white space is dropped: "Rome " taught a space token after Rome (the audit's
  // after text read "Rome İzmir").
  assert.equal(promptWithAnswer(PROMPT, "Rome "), `${PROMPT} Rome`);
  assert.equal(promptWithAnswer(PROMPT, " Rome \n"), `${PROMPT} Rome`);
});

Deno.test("a target with a leading space is the same edit target as without", async () => {
  const tok = await loadTokenizer(BASE);
  const target = (t: string) => {
    const [r] = validateRequests([{
      subject: "France",
      prompt: PROMPT,
      target_new: t,
      ground_truth: " Paris",
      rephrase_prompt: ["France's capital is"],
    }], "reqs.json");
    return editTarget(r, tok, 128, "reqs.json");
  };
  const plain = target("Rome");
  for (const spaced of [target(" Rome"), target("Rome "), target(" Rome  ")]) {
    assert.deepEqual(spaced.targetIds, plain.targetIds);
    assert.deepEqual(spaced.promptIds, plain.promptIds);
  }
});

Deno.test("the metrics split a spaced target as they split the plain one", async () => {
  const tok = await loadTokenizer(BASE);
  const model = { encode: (t: string) => tok.encode(t) } as EvalModel;
  assert.deepEqual(
    splitPromptTarget(model, PROMPT, " Rome"),
    splitPromptTarget(model, PROMPT, "Rome"),
  );
});
