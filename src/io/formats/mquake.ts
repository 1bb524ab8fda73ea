// MQuAKE records (MQuAKE-CF-3k.json, MQuAKE-CF.json, MQuAKE-T.json; field names confirmed against
// the data-format section of the public princeton-nlp/MQuAKE README and EasyEdit's
// easyeditor/dataset/MQuAKE.py). Per record:
//   requested_rewrite     an ARRAY of CounterFact-style rewrites {prompt with "{}", subject,
//                         target_new: {str}, target_true: {str}, question}
//   questions             string[]: multi-hop questions whose answer follows from the edits
//   new_answer            their answer after the edits (answer: before; *_alias: aliases)
//   case_id, answer, answer_alias, new_answer_alias, single_hops, new_single_hops, orig: not used
// Mapped: one EditRequest per record from its rewrite (./counterfact.ts rewriteRequest), rephrase =
// the rewrite's question, portability Multi_Hop = each question with the answer new_answer.
// A record with more than one rewrite is refused: this tool edits one fact per request, and the
// multi-hop answer holds only once every rewrite of the record is made, so scoring it after the
// first alone would be wrong. Keep the one-rewrite records first, e.g. with
//   jq 'map(select(.requested_rewrite | length == 1))' MQuAKE-CF-3k.json

import { rewriteRequest } from "./counterfact.ts";
import { describeValue, type EditRequest, has, RecordReader } from "./record.ts";

/** Validate one already-parsed MQuAKE record. */
export function mquakeRequest(value: unknown, file: string, index: number): EditRequest {
  const c = new RecordReader(file, index);
  const r = c.root(value);
  const rewrites: unknown[] = Array.isArray(r.requested_rewrite) && r.requested_rewrite.length > 0
    ? r.requested_rewrite
    : c.fail(
      "requested_rewrite",
      `expected a non-empty array of rewrites, got ${describeValue(r.requested_rewrite)}`,
    );
  if (rewrites.length > 1) {
    c.fail(
      "requested_rewrite",
      "expected one rewrite (one edit per request, and the multi-hop answer needs every " +
        `rewrite of the record made), got ${rewrites.length}; keep the one-rewrite records`,
    );
  }
  const req = rewriteRequest(c, rewrites[0], "requested_rewrite[0]", index);
  const first = rewrites[0] as Record<string, unknown>; // an object: rewriteRequest checked it
  if (has(first, "question")) {
    req.rephrasePrompts = [c.string(first.question, "requested_rewrite[0].question")];
  }
  const questions = c.strings(r.questions, "questions");
  const answer = c.answer(r.new_answer, "new_answer");
  req.portability = { Multi_Hop: questions.map((prompt) => ({ prompt, answer })) };
  return req;
}
