// CounterFact scores on hand-made models with known log-probabilities: whole multi-token answers
// are compared (a first token alone would give the opposite verdict), paraphrases average within
// a record, the neighbourhood compares each locality probe's own answer with target_new, absent
// ground truth leaves efficacy and paraphrase absent, and Score is the harmonic mean.

import assert from "node:assert/strict";
import { answerLogProb, counterfactRecord } from "../../src/eval/counterfact.ts";
import { summarize } from "../../src/eval/aggregate.ts";
import { validateRequest } from "../../src/io/requests.ts";
import { wordModel } from "./fake_model.ts";

const VOCAB = ["<s>", "the", "capital", "is", "New", "York", "Delhi", "Paris", "Rome", "of", "x"];
const id = (w: string) => VOCAB.indexOf(w);
const V = VOCAB.length;

/** Logits with the given log-weights (others -inf-ish). */
function dist(weights: Record<string, number>): Float32Array {
  const out = new Float32Array(V).fill(-30);
  for (const [w, lp] of Object.entries(weights)) out[id(w)] = lp;
  return out;
}

// After "is": "New" 0.6, "Paris" 0.4 (first tokens). After "New": "York" 0.1, "Delhi" 0.9.
// So P(New York) = 0.06 < P(Paris) = 0.4 although "New" beats "Paris" as a first token.
const model = wordModel(VOCAB, (prefix) => {
  const last = VOCAB[prefix.at(-1)!];
  if (last === "is") return dist({ New: Math.log(0.6), Paris: Math.log(0.4) });
  if (last === "New") return dist({ York: Math.log(0.1), Delhi: Math.log(0.9) });
  if (last === "of") return dist({ Rome: Math.log(0.7), Paris: Math.log(0.3) });
  return dist({ x: 0 });
});

Deno.test("answerLogProb sums the answer's token log-probabilities", async () => {
  const lp = await answerLogProb(model, "the capital is", "New York");
  assert.ok(Math.abs(lp - Math.log(0.6 * 0.1)) < 1e-5, `${lp}`);
  const one = await answerLogProb(model, "the capital is", "Paris");
  assert.ok(Math.abs(one - Math.log(0.4)) < 1e-5);
});

Deno.test("counterfact: whole answers, paraphrase mean, neighbourhood, absent ground truth", async () => {
  const req = validateRequest(
    {
      subject: "the capital",
      prompt: "the capital is",
      target_new: "New York",
      ground_truth: "Paris",
      rephrase_prompt: ["the capital is", "capital of"],
      locality: {
        Neighborhood: [
          { prompt: "capital of", ground_truth: "Rome" }, // Rome 0.7 vs New York ~0: holds
          { prompt: "the capital is", ground_truth: "Paris" }, // Paris 0.4 vs 0.06: holds
        ],
        Other: [{ prompt: "capital of", ground_truth: "New York" }], // equals target: skipped
      },
    },
    "t.json",
    0,
  );
  const m = await counterfactRecord(model, req);
  // New York (0.06) loses to Paris (0.4): not efficacious, though "New" (0.6) beats "Paris".
  assert.equal(m.efficacy, 0);
  // Rephrase 1 is the prompt itself (0); rephrase 2 "capital of": New ~0 vs Paris 0.3 (0).
  assert.equal(m.paraphrase, 0);
  assert.equal(m.neighborhood, 1);

  const flipped = await counterfactRecord(model, {
    ...req,
    targetNew: "Paris",
    groundTruth: "New York",
  });
  assert.equal(flipped.efficacy, 1);
  assert.equal(flipped.paraphrase, 1);

  const noTruth = await counterfactRecord(model, { ...req, groundTruth: undefined });
  assert.equal(noTruth.efficacy, undefined);
  assert.equal(noTruth.paraphrase, undefined);
  assert.equal(noTruth.neighborhood, 1);
});

Deno.test("summarize: CounterFact means x100 and Score as their harmonic mean", () => {
  const base = { editSucc: 1 };
  const s = summarize([
    { ...base, efficacy: 1, paraphrase: 0.5, neighborhood: 1 },
    { ...base, efficacy: 0, paraphrase: 1, neighborhood: 0.5 },
  ]);
  assert.equal(s.efficacy, 50);
  assert.equal(s.paraphrase, 75);
  assert.equal(s.neighborhood, 75);
  assert.ok(Math.abs(s.cfScore! - 3 / (1 / 50 + 2 / 75)) < 1e-9);
  assert.equal(summarize([{ ...base, efficacy: 1, neighborhood: 1 }]).cfScore, undefined);
  assert.equal(summarize([{ ...base, efficacy: 0, paraphrase: 1, neighborhood: 1 }]).cfScore, 0);
});
