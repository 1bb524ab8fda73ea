// The anchors of an edit (src/edit/anchors.ts): other subjects' prompts, those asking the edited
// prompt's question first, then the edited subject swapped into the pool's rephrases; never the
// edit's own evaluated texts. Of the built anchors, only swapped prompts the unedited model
// answers like the edit prompt are dropped: other subjects that share the edited answer stay.

import assert from "node:assert/strict";
import { anchorCandidates, buildAnchors } from "../../src/edit/anchors.ts";
import { greedy } from "../../src/edit/eval-model.ts";
import { getBackend } from "../helpers/backends.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { type EditRequest, validateRequests } from "../../src/io/requests.ts";
import { loadTokenizer } from "../../src/io/tokenizer.ts";

const BASE = new URL("../../models/kne-facts-base", import.meta.url).pathname;

const request = (
  subject: string,
  prompt: string,
  rephrase: string[],
  groundTruth?: string,
): EditRequest =>
  validateRequests([{
    subject,
    prompt,
    target_new: "Rome",
    rephrase_prompt: rephrase,
    ...groundTruth === undefined ? {} : { ground_truth: groundTruth },
  }], "reqs.json")[0];

Deno.test("anchor candidates put other subjects asked the edited question first", async () => {
  const tok = await loadTokenizer(BASE);
  const pool = [
    request("Chile", "Chile is a country in", ["The home continent of Chile is"]),
    request("Peru", "The currency of Peru is the", ["Peru pays in the"]),
    request("Spain", "The capital of Spain is", ["Spain's capital is"]),
    request("France", "The capital of France is", ["France's capital city is"]),
    request("Japan", "The capital of Japan is", ["The seat of government of Japan is"]),
  ];
  const edit = request("France", "The capital of France is", ["France's capital is"]);
  const decode = (list: number[][]) => list.map((ids) => tok.decode(ids).trim());
  const { others, swapped } = anchorCandidates(tok, 128, pool, edit);
  // Other subjects, the edited question first, in the pool's order; France's own is left out.
  assert.deepEqual(decode(others), [
    "The capital of Spain is",
    "The capital of Japan is",
    "Chile is a country in",
    "The currency of Peru is the",
  ]);
  // France swapped into the other subjects' rephrases; "France's capital is", the edit's own
  // rephrase, is dropped.
  assert.deepEqual(decode(swapped), [
    "The home continent of France is",
    "France pays in the",
    "The seat of government of France is",
  ]);
  // At most maxOther other subjects: the edited question's neighbours are the ones kept.
  const few = anchorCandidates(tok, 128, pool, edit, { maxOther: 2, maxSubject: 0 });
  assert.deepEqual(decode(few.others), ["The capital of Spain is", "The capital of Japan is"]);
  assert.deepEqual(few.swapped, []);
});

Deno.test("anchor candidates put neighbours with the edited fact's old answer first", async () => {
  const tok = await loadTokenizer(BASE);
  const pool = [
    request("Peru", "The currency of Peru is the", [], "Sol"),
    request("Japan", "Japan is a country in", [], "Asia"),
    request("Benin", "Benin is a country in", [], "Africa"),
    request("Chile", "Chile is a country in", []),
    request("Togo", "Togo is a country in", [], "Africa"),
  ];
  const edit = request("Cabo Verde", "Cabo Verde is a country in", [], "Africa");
  const others = (e: EditRequest, max = 48) =>
    anchorCandidates(tok, 128, pool, e, { maxOther: max, maxSubject: 0 }).others
      .map((ids) => tok.decode(ids).trim());
  assert.deepEqual(others(edit), [
    "Benin is a country in",
    "Togo is a country in",
    "Japan is a country in",
    "Chile is a country in",
    "The currency of Peru is the",
  ]);
  // With few places, the same-answer neighbours are the ones kept.
  assert.deepEqual(others(edit, 2), ["Benin is a country in", "Togo is a country in"]);
  // A request without its old answer keeps the pool's order within the edited question.
  const unknown = request("Cabo Verde", "Cabo Verde is a country in", []);
  assert.deepEqual(others(unknown, 2), ["Japan is a country in", "Benin is a country in"]);
});

Deno.test("built anchors keep neighbours that share the edited answer, not paraphrases", async () => {
  const be = await getBackend("wasm");
  const { model, tokenizer } = await loadModel(BASE, be, { tokenizer: true });
  const tok = tokenizer!;
  const pool = [
    request("Benin", "Benin is a country in", ["The home continent of Benin is"]),
    request("Japan", "Japan is a country in", ["Japan is part of the continent of"]),
  ];
  const edit = request("Cabo Verde", "Cabo Verde is a country in", ["Cabo Verde is found in"]);
  const editIds = tok.encode(edit.prompt);
  const built = await buildAnchors(model, tok, pool, edit, editIds);
  const texts = built.map((ids) => tok.decode(ids).trim());
  // The unedited model's greedy next token after `text`.
  const answer = async (text: string) =>
    (await greedy(model, tok, tok.encode(text), 1)).slice(text.length).trim();
  // The premise: the model answers Africa for Cabo Verde, for Benin and for both swapped
  // paraphrases.
  assert.equal(await answer(edit.prompt), "Africa");
  assert.equal(await answer("Benin is a country in"), "Africa");
  assert.equal(await answer("The home continent of Cabo Verde is"), "Africa");
  assert.equal(await answer("Cabo Verde is part of the continent of"), "Africa");
  assert.deepEqual(texts, ["Benin is a country in", "Japan is a country in"]);
});
