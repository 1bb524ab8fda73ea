// The anchor candidates of an edit (src/edit/anchors.ts): other subjects' prompts, those asking the
// edited prompt's question first, then the edited subject swapped into the pool's rephrases;
// never the edit's own evaluated texts.

import assert from "node:assert/strict";
import { anchorCandidates } from "../../src/edit/anchors.ts";
import { type EditRequest, validateRequests } from "../../src/io/requests.ts";
import { loadTokenizer } from "../../src/io/tokenizer.ts";

const BASE = new URL("../../models/kne-facts-base", import.meta.url).pathname;

const request = (subject: string, prompt: string, rephrase: string[]): EditRequest =>
  validateRequests([{
    subject,
    prompt,
    target_new: "Rome",
    rephrase_prompt: rephrase,
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
  const texts = anchorCandidates(tok, 128, pool, edit).map((ids) => tok.decode(ids).trim());
  assert.deepEqual(texts, [
    // Other subjects, the edited question first, in the pool's order; France's own is left out.
    "The capital of Spain is",
    "The capital of Japan is",
    "Chile is a country in",
    "The currency of Peru is the",
    // France swapped into the other subjects' rephrases; "France's capital is", the edit's own
    // rephrase, is dropped.
    "The home continent of France is",
    "France pays in the",
    "The seat of government of France is",
  ]);
  // At most maxOther other subjects: the edited question's neighbours are the ones kept.
  const few = anchorCandidates(tok, 128, pool, edit, { maxOther: 2, maxSubject: 0 });
  assert.deepEqual(few.map((ids) => tok.decode(ids).trim()), [
    "The capital of Spain is",
    "The capital of Japan is",
  ]);
});
