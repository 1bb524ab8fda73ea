// KnowEdit-style request records, the default shape (format in /work/shared/KNE.md). Per record:
//   subject, prompt, target_new   required text
//   ground_truth                  optional answer (the old fact; not used by the KnowEdit metrics)
//   rephrase_prompt               optional string or array of strings (Generalization);
//                                 `rephrase` (KnowEdit ZsRE's name) is accepted as a synonym
//   portability, locality         optional objects: probe-kind name -> array of probes
//                                 {prompt, ground_truth}; a single probe object is accepted as a
//                                 one-probe array; `target` is accepted as a synonym of a probe's
//                                 ground_truth (the form some converted files use)
// Optional fields that are null count as absent. Unknown fields are ignored (KnowEdit records carry
// extras such as case_id). Giving both a field and its synonym is an error (it would be ambiguous
// which one is meant). Text and answer checks are ./record.ts's.

import { type EditRequest, has, RecordReader } from "./record.ts";

/** Validate one already-parsed KnowEdit record. */
export function validateRequest(value: unknown, file: string, index: number): EditRequest {
  const c = new RecordReader(file, index);
  const r = c.root(value);
  // The prompt is checked first: the command line's subject defaults to it.
  const prompt = c.string(r.prompt, "prompt");
  const req: EditRequest = {
    index,
    subject: c.string(r.subject, "subject"),
    prompt,
    targetNew: c.string(r.target_new, "target_new"),
    rephrasePrompts: [],
    portability: {},
    locality: {},
  };
  if (has(r, "ground_truth")) req.groundTruth = c.answer(r.ground_truth, "ground_truth");
  if (has(r, "rephrase_prompt") && has(r, "rephrase")) {
    c.fail("rephrase", "both rephrase_prompt and its synonym rephrase are given");
  }
  const rk = has(r, "rephrase") ? "rephrase" : "rephrase_prompt";
  if (has(r, rk)) req.rephrasePrompts = c.strings(r[rk], rk);
  if (has(r, "portability")) req.portability = c.probes(r.portability, "portability");
  if (has(r, "locality")) req.locality = c.probes(r.locality, "locality");
  return req;
}
