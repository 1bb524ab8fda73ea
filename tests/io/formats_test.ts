// The request-file readers of other projects' formats (CounterFact, ZsRE, MQuAKE, KnowEdit) on
// hand-made files in their public shapes (tests/fixtures/formats/): the mapped EditRequest field
// by field, detection by the first record's keys, an explicit format, and bad records refused
// with the exact message naming the record and the field in the file's own shape.

import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import fc from "fast-check";
import {
  detectFormat,
  type EditRequest,
  loadRequests,
  parseRequests,
  REQUEST_FORMATS,
  RequestError,
  validateRequests,
} from "../../src/io/requests.ts";
import { errorOf, mutate, parsesOrRequestError } from "../helpers/request_errors.ts";

const DIR = new URL("../fixtures/formats/", import.meta.url).pathname;
const path = (format: string) => `${DIR}${format}.json`;
const raw = (format: string): unknown[] => JSON.parse(Deno.readTextFileSync(path(format)));
const clone = <T>(v: T): T => structuredClone(v);
const FILE = "x.json";

const msg = (records: unknown, format = "auto") =>
  errorOf(() => validateRequests(records, FILE, { format })).message;

Deno.test("CounterFact: the subject fills {}, target_true is the old answer and the neighbours'", async () => {
  const rs = await loadRequests(path("counterfact"));
  assertEquals(rs.length, 3);
  const want: EditRequest = {
    index: 0,
    subject: "France",
    prompt: "The capital of France is",
    targetNew: "Rome",
    groundTruth: "Paris",
    rephrasePrompts: [
      "Tourists in Europe often visit France. The capital of France is",
      "the capital city of France is",
    ],
    portability: {},
    locality: {
      Neighborhood: [
        { prompt: "The capital of the French Republic is", answer: "Paris" },
        { prompt: "The seat of the French government is in", answer: "Paris" },
      ],
    },
  };
  assertEquals(rs[0], want);
  assertEquals(
    [rs[1].index, rs[1].subject, rs[1].prompt, rs[1].targetNew, rs[1].groundTruth],
    [1, "Marie Curie", "The mother tongue of Marie Curie is", "English", "Polish"],
  );
  assertEquals(rs[1].locality, {
    Neighborhood: [{ prompt: "The mother tongue of Frederic Chopin is", answer: "Polish" }],
  });
  // The subject may open the template; attribute and generation prompts are not probes.
  assertEquals(rs[2].prompt, "iPhone, a product developed by");
  assertEquals(rs[2].rephrasePrompts, ["The iPhone was made by"]);
  assertEquals(rs[2].portability, {});
  assertEquals(rs[2].locality.Neighborhood.map((p) => p.answer), ["Apple", "Apple"]);
});

Deno.test("CounterFact: a subject with $& or $1 is put in literally", () => {
  const [r] = raw("counterfact") as { requested_rewrite: Record<string, unknown> }[];
  const rec = clone(r);
  rec.requested_rewrite.subject = "A$&B$1";
  assertEquals(validateRequests([rec], FILE)[0].prompt, "The capital of A$&B$1 is");
});

Deno.test("ZsRE: src is the prompt, alt the new answer, answers[0] the old, loc/loc_ans NQ", async () => {
  const rs = await loadRequests(path("zsre"));
  const want: EditRequest = {
    index: 0,
    subject: "Lake Baikal",
    prompt: "Which country is Lake Baikal located in?",
    targetNew: "Mongolia",
    groundTruth: "Russia",
    rephrasePrompts: ["In which country is Lake Baikal?"],
    portability: {},
    locality: {
      NQ: [{ prompt: "nq question: who wrote the novel war and peace", answer: "Leo Tolstoy" }],
    },
  };
  assertEquals(rs[0], want);
  assertEquals(rs[1].groundTruth, "J. R. R. Tolkien");
  assertEquals(rs[1].targetNew, "C. S. Lewis");
  assertEquals(rs[1].portability, {
    One_Hop: [{
      prompt: "Which novel series did the author of The Hobbit also write?",
      answer: "The Chronicles of Narnia",
    }],
  });
});

Deno.test("MQuAKE: the rewrite is the edit, its question a rephrase, the questions Multi_Hop", async () => {
  const rs = await loadRequests(path("mquake"));
  const want: EditRequest = {
    index: 0,
    subject: "Ada Lovelace",
    prompt: "Ada Lovelace is a citizen of",
    targetNew: "Canada",
    groundTruth: "United Kingdom",
    rephrasePrompts: ["What is the country of citizenship of Ada Lovelace?"],
    portability: {
      Multi_Hop: [
        "What is the capital of the country Ada Lovelace is a citizen of?",
        "Which city is the capital of Ada Lovelace's country of citizenship?",
        "In which city is the government of the country where Ada Lovelace holds citizenship?",
      ].map((prompt) => ({ prompt, answer: "Ottawa" })),
    },
    locality: {},
  };
  assertEquals(rs[0], want);
  assertEquals(
    [rs[1].index, rs[1].prompt, rs[1].targetNew, rs[1].groundTruth],
    [1, "The official language of Peru is", "Japanese", "Spanish"],
  );
  assertEquals(rs[1].portability.Multi_Hop.length, 3);
});

Deno.test("KnowEdit: read as before (alias lists, extra fields ignored)", async () => {
  const rs = await loadRequests(path("knowedit"));
  assertEquals(rs[0].groundTruth, "France");
  assertEquals(rs[0].portability.Subject_Aliasing, [
    { prompt: "Lugdunum is a city in the country of", answer: "Italy" },
  ]);
  assertEquals(rs[0].portability.Logical_Generalization, []);
  assertEquals(rs[0].locality.Relation_Specificity[0].answer, "Gregory Doucet");
  assertEquals(rs[1].rephrasePrompts, ["The river Danube ends in the"]);
});

Deno.test("detection by the first record's keys; an explicit format reads the same", async () => {
  for (const format of ["knowedit", "counterfact", "zsre", "mquake"] as const) {
    assertEquals(detectFormat(raw(format), FILE), format);
    assertEquals(
      await loadRequests(path(format), { format }),
      await loadRequests(path(format)),
    );
  }
  assertEquals(detectFormat([], FILE), "knowedit");
  assertEquals(validateRequests([], FILE, { format: "mquake" }), []);
  assertEquals(REQUEST_FORMATS, ["auto", "knowedit", "counterfact", "zsre", "mquake"]);
});

Deno.test("an unknown format, a shape that matches none, and the wrong explicit format", async () => {
  const bad = errorOf(() => parseRequests("[]", FILE, { format: "rome" }));
  assertEquals(
    bad.message,
    'x.json: unknown request format "rome" (expected auto, knowedit, counterfact, zsre or mquake)',
  );
  assertEquals(
    msg([{ case_id: 3, question: "q" }]),
    "x.json: record 0: matches no request format (KnowEdit: prompt, subject, target_new; " +
      "CounterFact: requested_rewrite object; MQuAKE: requested_rewrite array; ZsRE: src, alt, " +
      'answers), got keys "case_id", "question"; name the format with --format',
  );
  assertEquals(msg([{}]).endsWith("got keys none; name the format with --format"), true);
  assertEquals(msg([7]), "x.json: record 0: expected an object, got number");
  // A CounterFact file read as ZsRE fails on the first field ZsRE needs.
  const e = errorOf(() =>
    parseRequests(JSON.stringify(raw("counterfact")), FILE, { format: "zsre" })
  );
  assertEquals(
    e.message,
    "x.json: record 0: field src: expected a non-empty string, got nothing (the field is missing)",
  );
  // The loader names the path.
  const l = await loadRequests(path("zsre"), { format: "mquake" }).catch((x) => x);
  assert(l instanceof RequestError);
  assertEquals(l.file, path("zsre"));
  assertEquals(l.field, "requested_rewrite");
});

Deno.test("a record of another shape later in the file fails on its own fields", () => {
  const mixed = [raw("counterfact")[0], raw("zsre")[0]];
  assertEquals(
    msg(mixed),
    "x.json: record 1: field requested_rewrite: expected an object " +
      "{prompt, subject, target_new, target_true}, got nothing (the field is missing)",
  );
});

Deno.test("bad CounterFact records: the field path is CounterFact's", () => {
  const base = raw("counterfact")[0] as Record<string, Record<string, unknown>>;
  const rw = (change: Record<string, unknown>) =>
    msg([{ ...base, requested_rewrite: { ...base.requested_rewrite, ...change } }]);
  const p = "x.json: record 0: field requested_rewrite.";
  assertEquals(
    rw({ subject: undefined }),
    p + "subject: expected a non-empty string, got nothing (the field is missing)",
  );
  assertEquals(
    rw({ prompt: "The capital of France is" }),
    p + "prompt: expected a template with one {} where the subject goes, got none in " +
      '"The capital of France is"',
  );
  assertEquals(
    rw({ prompt: "{} and {} are" }),
    p + 'prompt: expected a template with one {} where the subject goes, got 2 in "{} and {} are"',
  );
  assertEquals(
    rw({ target_new: "Rome" }),
    p + "target_new: expected an object {str, id}, got string",
  );
  assertEquals(
    rw({ target_true: { id: "Q90" } }),
    p + "target_true.str: expected a non-empty string, got nothing (the field is missing)",
  );
  assertEquals(
    rw({ target_new: { str: "Ro\u001bme" } }),
    p + 'target_new.str: expected text without control characters, got "Ro\\u001bme"',
  );
  assertEquals(
    msg([{ ...base, requested_rewrite: [] }], "counterfact"),
    "x.json: record 0: field requested_rewrite: expected an object " +
      "{prompt, subject, target_new, target_true}, got empty array",
  );
  assertEquals(
    msg([{ ...base, neighborhood_prompts: ["ok", 3] }]),
    "x.json: record 0: field neighborhood_prompts[1]: expected a non-empty string, got number",
  );
  assertEquals(
    msg([{ ...base, paraphrase_prompts: {} }]),
    "x.json: record 0: field paraphrase_prompts: expected a string or an array of strings, got object",
  );
});

Deno.test("bad ZsRE records: the field path is ZsRE's", () => {
  const [a, b] = raw("zsre") as Record<string, unknown>[];
  const p = "x.json: record 0: field ";
  assertEquals(msg([{ ...a, alt: "" }]), p + "alt: expected a non-empty string, got empty string");
  assertEquals(
    msg([{ ...a, answers: [] }]),
    p +
      "answers: expected a non-empty string, an array of aliases or an array of alias lists, got empty array",
  );
  assertEquals(
    msg([{ ...a, loc_ans: undefined }]),
    p +
      "loc_ans: expected a non-empty string, an array of aliases or an array of alias lists, got nothing (the field is missing)",
  );
  assertEquals(
    msg([{ ...a, src: null }], "zsre"),
    p + "src: expected a non-empty string, got null",
  );
  assertEquals(
    msg([{ ...b, portability: { "New Question": "q" } }]),
    p +
      "portability.New Answer: expected a non-empty string, an array of aliases or an array of alias lists, got nothing (the field is missing)",
  );
  assertEquals(
    msg([{ ...b, portability: "q" }]),
    p + 'portability: expected an object {"New Question", "New Answer"}, got string',
  );
});

Deno.test("bad MQuAKE records: more than one rewrite is refused, naming the record", () => {
  const [a] = raw("mquake") as Record<string, unknown[]>[];
  const two = { ...a, requested_rewrite: [a.requested_rewrite[0], a.requested_rewrite[0]] };
  const e = errorOf(() => validateRequests([a, two], FILE));
  assertEquals(
    e.message,
    "x.json: record 1: field requested_rewrite: expected one rewrite (one edit per request, and " +
      "the multi-hop answer needs every rewrite of the record made), got 2; keep the " +
      "one-rewrite records",
  );
  assertEquals([e.record, e.field], [1, "requested_rewrite"]);
  const p = "x.json: record 0: field ";
  assertEquals(
    msg([{ ...a, requested_rewrite: [] }]),
    p + "requested_rewrite: expected a non-empty array of rewrites, got empty array",
  );
  assertEquals(
    msg([{ ...a, requested_rewrite: "x" }], "mquake"),
    p + "requested_rewrite: expected a non-empty array of rewrites, got string",
  );
  const rw = a.requested_rewrite[0] as Record<string, unknown>;
  assertEquals(
    msg([{ ...a, requested_rewrite: [{ ...rw, subject: " " }] }]),
    p + "requested_rewrite[0].subject: expected a non-empty string, got blank string",
  );
  assertEquals(
    msg([{ ...a, requested_rewrite: [{ ...rw, prompt: "citizen of" }] }]),
    p + "requested_rewrite[0].prompt: expected a template with one {} where the subject goes, " +
      'got none in "citizen of"',
  );
  assertEquals(
    msg([{ ...a, questions: undefined }]),
    p + "questions: expected a string or an array of strings, got nothing (the field is missing)",
  );
  assertEquals(
    msg([{ ...a, new_answer: 5 }]),
    p +
      "new_answer: expected a non-empty string, an array of aliases or an array of alias lists, got number",
  );
});

Deno.test("fuzz: mutations of every format's file parse or throw RequestError", () => {
  const files = ["knowedit", "counterfact", "zsre", "mquake"].map(raw);
  fc.assert(
    fc.property(
      fc.nat(3),
      fc.constantFrom(...REQUEST_FORMATS),
      fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 7 }),
      fc.jsonValue({ maxDepth: 3 }),
      fc.nat(),
      (f, format, path, replacement, op) => {
        const m = mutate(files[f], path, replacement, op);
        parsesOrRequestError(() => {
          const rs = validateRequests(m, FILE, { format });
          for (const r of rs) assert(r.prompt.trim().length > 0 && r.targetNew.trim().length > 0);
        });
      },
    ),
    { numRuns: 600 },
  );
});
