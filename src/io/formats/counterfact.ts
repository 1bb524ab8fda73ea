// CounterFact records, the shape of ROME's counterfact.json (field names confirmed against the
// public kmeng01/rome repository: dsets/counterfact.py loads the file and
// experiments/py/eval_utils_counterfact.py reads each field). Per record:
//   requested_rewrite     {prompt: a template with "{}" where the subject goes, subject,
//                          target_new: {str, id}, target_true: {str, id}, relation_id}
//   paraphrase_prompts    string[]: the edited fact in other words
//   neighborhood_prompts  string[]: other subjects whose true answer is target_true.str (ROME's
//                         neighbourhood score compares it with target_new there)
//   case_id, pararel_idx, attribute_prompts, generation_prompts: not used (ignored)
// Mapped: prompt = the template with the subject in place of "{}" (exactly one), target_new =
// target_new.str, ground_truth = target_true.str, rephrase = paraphrase_prompts, locality
// Neighborhood = each neighbourhood prompt with the answer target_true.str. Errors name the field
// in this shape (requested_rewrite.target_new.str).

import { type EditRequest, has, RecordReader } from "./record.ts";

/** The text of a {str, id} target object at `field`. */
function targetStr(c: RecordReader, v: unknown, field: string): string {
  const t = c.object(v, field, "an object {str, id}");
  return c.string(t.str, `${field}.str`);
}

/**
 * The request of a requested_rewrite object at `field` (e.g. "requested_rewrite[0]"; CounterFact's,
 * and each of MQuAKE's): its edited fact, with no probes yet.
 */
export function rewriteRequest(
  c: RecordReader,
  v: unknown,
  field: string,
  index: number,
): EditRequest & { groundTruth: string } {
  const rw = c.object(v, field, "an object {prompt, subject, target_new, target_true}");
  const template = c.string(rw.prompt, `${field}.prompt`);
  const subject = c.string(rw.subject, `${field}.subject`);
  const holes = template.split("{}").length - 1;
  if (holes !== 1) {
    c.fail(
      `${field}.prompt`,
      `expected a template with one {} where the subject goes, got ${
        holes === 0 ? "none" : holes
      } in ${JSON.stringify(template)}`,
    );
  }
  return {
    index,
    subject,
    // Not String.replace: "$&" or "$1" in a subject would be read as a replacement pattern.
    prompt: template.split("{}").join(subject),
    targetNew: targetStr(c, rw.target_new, `${field}.target_new`),
    groundTruth: targetStr(c, rw.target_true, `${field}.target_true`),
    rephrasePrompts: [],
    portability: {},
    locality: {},
  };
}

/** Validate one already-parsed CounterFact record. */
export function counterfactRequest(value: unknown, file: string, index: number): EditRequest {
  const c = new RecordReader(file, index);
  const r = c.root(value);
  const req = rewriteRequest(c, r.requested_rewrite, "requested_rewrite", index);
  if (has(r, "paraphrase_prompts")) {
    req.rephrasePrompts = c.strings(r.paraphrase_prompts, "paraphrase_prompts");
  }
  if (has(r, "neighborhood_prompts")) {
    const prompts = c.strings(r.neighborhood_prompts, "neighborhood_prompts");
    req.locality = { Neighborhood: prompts.map((prompt) => ({ prompt, answer: req.groundTruth })) };
  }
  return req;
}
