// Every text of a request is checked like the prompt before any weight is read: a rephrase,
// portability or locality probe longer than the context, with words the tokenizer does not know,
// or blank is refused naming the record and the field (it once scored 0 with exit 0, or was
// scored on [UNK] tokens).

import assert from "node:assert/strict";
import { join } from "node:path";
import { EditInputError, editTarget } from "../../src/edit/targets.ts";
import { validateRequests } from "../../src/io/requests.ts";
import { loadTokenizer } from "../../src/io/tokenizer.ts";
import { copyModel, FAST, runEdit } from "./cli_helpers.ts";
import { FAULTS } from "./counts.ts";

const TINY = new URL("../fixtures/tiny-gpt2", import.meta.url).pathname;
const tok = await loadTokenizer(TINY);
const CTX = 32;
const LONG = Array(20).fill("the capital of France").join(" ") + " is";
const base = { subject: "France", prompt: "The capital of France is", target_new: "Rome" };
// 21 tokens: fits the context of 32 with a one-token answer, not with a 13-token one.
const MID = Array(5).fill("the capital of France").join(" ") + " is";
const PARIS_13 = Array(13).fill("Paris").join(" ");
const ROME_13 = Array(13).fill("Rome").join(" ");

const cases: [Record<string, unknown>, RegExp][] = [
  [{ rephrase_prompt: [LONG] }, /field rephrase_prompt\[0\]: .*longer than the model's context/],
  [
    {
      portability: {
        Reasoning: [{ prompt: "The capital of France is", ground_truth: "Rome" }, {
          prompt: LONG,
          ground_truth: "Paris",
        }],
      },
    },
    /field portability\.Reasoning\[1\]: .*longer than the model's context of 32 tokens/,
  ],
  [
    {
      locality: { Neighborhood: [{ prompt: "The capital of Zyxwvut is", ground_truth: "Madrid" }] },
    },
    /field locality\.Neighborhood\[0\]: .*words the tokenizer does not know/,
  ],
  [
    { locality: { Neighborhood: [{ prompt: "The capital of Spain is", ground_truth: "Qqqzz" }] } },
    /field locality\.Neighborhood\[0\]: .*does not know/,
  ],
  // The pairs the CounterFact scores read: ground_truth after the prompt and the rephrases,
  // target_new after the locality probes (each fits with its own answer).
  [{ ground_truth: "Qqqzz" }, /field ground_truth: .*does not know/],
  [
    { ground_truth: PARIS_13, rephrase_prompt: [MID] },
    /field rephrase_prompt\[0\] with ground_truth: .* 33 tokens .*longer than the model's context/,
  ],
  [
    {
      target_new: ROME_13,
      locality: { Neighborhood: [{ prompt: MID, ground_truth: "Madrid" }] },
    },
    /field locality\.Neighborhood\[0\] with target_new: .*longer than the model's context/,
  ],
];

Deno.test("every probe of a request is checked like the prompt (in-process)", () => {
  for (const [extra, re] of cases) {
    const [r] = validateRequests([{ ...base, ...extra }], "reqs.json");
    assert.throws(
      () => editTarget(r, tok, CTX, "reqs.json"),
      (e: unknown) =>
        e instanceof EditInputError && re.test(e.message) && /reqs\.json: record 0/.test(e.message),
    );
  }
  // The same request with probes that fit is accepted.
  const [ok] = validateRequests([{
    ...base,
    ground_truth: "Paris",
    rephrase_prompt: ["The capital city of France is"],
    locality: { Neighborhood: [{ prompt: "The capital of Spain is", ground_truth: "Madrid" }] },
  }], "reqs.json");
  editTarget(ok, tok, CTX, "reqs.json");
  FAULTS.add("probe past the context or unknown (in-process)", cases.length);
});

Deno.test({
  name: "the edit command refuses a too-long rephrase before reading a weight",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "kne-probes-" });
    const model = await copyModel("tiny-gpt2", join(dir, "model"));
    // Weights that cannot be read: the refusal must come first.
    await Deno.writeTextFile(join(model, "model.safetensors"), "not a safetensors file");
    const reqs = join(dir, "reqs.json");
    await Deno.writeTextFile(reqs, JSON.stringify([{ ...base, rephrase_prompt: LONG }]));
    const r = await runEdit([
      "--model",
      model,
      "--requests",
      reqs,
      "--out",
      join(dir, "out"),
      ...FAST,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /record 0: field rephrase_prompt\[0\]: .*longer than the model's context/,
    );
    assert.doesNotMatch(r.stderr, /safetensors/);
    await Deno.remove(dir, { recursive: true });
    FAULTS.add("probe past the context (CLI)", 1);
  },
});
