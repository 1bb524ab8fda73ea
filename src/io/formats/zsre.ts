// ZsRE records as MEND and EasyEdit ship them (zsre_mend_eval.json; field names confirmed against
// the public zjunlp/EasyEdit repository: easyeditor/dataset/zsre.py reads src, alt, answers,
// rephrase, loc, loc_ans, and examples/run_zsre_llama2.py the portability version's
// portability["New Question"] / ["New Answer"]). Per record:
//   subject, src          the subject and the question that is edited
//   alt                   the new answer
//   answers               string[]: the old answers (the first is used)
//   rephrase              the question in other words (string or string[])
//   loc, loc_ans          an unrelated Natural Questions probe ("nq question: ...") and its answer
//   portability           optional {"New Question", "New Answer"} (EasyEdit's portability files)
//   pred, cond: not used (ignored)
// Mapped: prompt = src, target_new = alt, ground_truth = answers[0], rephrase, locality NQ =
// {loc, loc_ans}, portability One_Hop = {New Question, New Answer}. A record whose alt is empty is
// refused like any empty target (EasyEdit's loader skips such records; filter them out first).

import { type EditRequest, has, RecordReader } from "./record.ts";

/** Validate one already-parsed ZsRE record. */
export function zsreRequest(value: unknown, file: string, index: number): EditRequest {
  const c = new RecordReader(file, index);
  const r = c.root(value);
  const prompt = c.string(r.src, "src");
  const req: EditRequest = {
    index,
    subject: c.string(r.subject, "subject"),
    prompt,
    targetNew: c.string(r.alt, "alt"),
    groundTruth: c.answer(r.answers, "answers"),
    rephrasePrompts: [],
    portability: {},
    locality: {},
  };
  if (has(r, "rephrase")) req.rephrasePrompts = c.strings(r.rephrase, "rephrase");
  if (has(r, "loc") || has(r, "loc_ans")) {
    req.locality = {
      NQ: [{ prompt: c.string(r.loc, "loc"), answer: c.answer(r.loc_ans, "loc_ans") }],
    };
  }
  if (has(r, "portability")) {
    const p = c.object(r.portability, "portability", 'an object {"New Question", "New Answer"}');
    req.portability = {
      One_Hop: [{
        prompt: c.string(p["New Question"], "portability.New Question"),
        answer: c.answer(p["New Answer"], "portability.New Answer"),
      }],
    };
  }
  return req;
}
