// Per-record evaluation and aggregation: known answers on hand-made models, the two-level
// portability/locality means, absent metrics (never NaN) and their exclusion from the means.

import {
  deepEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import fc from "fast-check";
import { evaluateRecord, localityBaseline, type RecordMetrics } from "../../src/eval/record.ts";
import { meanDefined, summarize } from "../../src/eval/aggregate.ts";
import { nGramEntropyScore } from "../../src/eval/fluency.ts";
import { validateRequest } from "../../src/io/requests.ts";
import { bigramRule, wordModel } from "./fake_model.ts";

const VOCAB = [
  "<s>",
  "The",
  "capital",
  "of",
  "France",
  "is",
  "Paris",
  "Rome",
  "Euro",
  "currency",
  "city",
  "Lyon",
  "in",
  "Italy",
  "Spain",
  "Madrid",
  "language",
  "French",
  "mayor",
  "X",
];
const id = (w: string) => VOCAB.indexOf(w);

// "Before": France's capital is Paris. "After" the edit: after "is" -> Rome; "in" -> Italy
// (portability probe right), "language is" changes too (locality damage).
const BEFORE: Record<number, number> = {
  [id("is")]: id("Paris"),
  [id("in")]: id("France"),
  [id("currency")]: id("is"),
  [id("language")]: id("French"),
  [id("Rome")]: id("city"),
};
const AFTER: Record<number, number> = {
  ...BEFORE,
  [id("is")]: id("Rome"),
  [id("in")]: id("Italy"),
};

const REQUEST = validateRequest(
  {
    subject: "France",
    prompt: "The capital of France is",
    target_new: "Rome",
    ground_truth: "Paris",
    rephrase_prompt: ["France capital is", "The capital city of France X"],
    portability: {
      // Scores per probe on the edited model are noted on the right.
      Reasoning: [
        { prompt: "Lyon is in", ground_truth: "Italy" }, // 1
        { prompt: "Lyon is in", ground_truth: "Spain" }, // 0
      ],
      Subject_Aliasing: [{ prompt: "The capital of France is", ground_truth: "Rome city" }], // 1
      Empty: [],
    },
    locality: {
      Relation_Specificity: [
        { prompt: "The currency of France is", ground_truth: "Euro" }, // is->Paris vs Rome: 0
        { prompt: "The language of France", ground_truth: "French" }, // unchanged: 1
      ],
      Forgetfulness: [{ prompt: "Lyon is in", ground_truth: "France" }], // in->France vs Italy: 0
    },
  },
  "test.json",
  3,
);

Deno.test("evaluateRecord: known scores and two-level means", async () => {
  const before = wordModel(VOCAB, bigramRule(BEFORE));
  const after = wordModel(VOCAB, bigramRule(AFTER));
  const baseline = await localityBaseline(before, REQUEST);
  const r = await evaluateRecord(REQUEST, after, { baseline, fluency: false });
  assertEquals(r.editSucc, 1);
  // "France capital is" -> Rome (1); "... France X" -> X has no rule -> <s> (0).
  assertEquals(r.generalization, 0.5);
  // Per kind: Reasoning (1 + 0) / 2, Subject_Aliasing 1 ("Rome" then "city"), Empty skipped.
  assertEquals(r.portabilityByKind, { Reasoning: 0.5, Subject_Aliasing: 1 });
  assertEquals(r.portability, 0.75); // mean of kinds, not of probes (2/3)
  // Relation_Specificity: Euro probe (predictions at "is" then ...) and French probe.
  assertEquals(r.localityByKind, { Relation_Specificity: 0.5, Forgetfulness: 0 });
  assertEquals(r.locality, 0.25);
  assertEquals("fluency" in r, false);
  // Passing the unedited model instead of a baseline gives the same result.
  const r2 = await evaluateRecord(REQUEST, after, { before, fluency: false });
  assertEquals(r2, r);
  // The unedited model evaluated against itself: locality 1, edit 0 (it says Paris).
  const pre = await evaluateRecord(REQUEST, before, { baseline, fluency: false });
  assertEquals([pre.editSucc, pre.locality], [0, 1]);
});

Deno.test("metrics without probes are absent, never NaN", async () => {
  const bare = validateRequest(
    {
      subject: "France",
      prompt: "The capital of France is",
      target_new: "Rome",
      portability: { A: [] },
    },
    "t.json",
    0,
  );
  const m = wordModel(VOCAB, bigramRule(AFTER));
  const r = await evaluateRecord(bare, m, { fluency: false }); // no baseline needed: no probes
  assertEquals(r, { editSucc: 1 });
  for (const v of Object.values(r)) assert(!Number.isNaN(v));
});

Deno.test("locality without a baseline or unedited model is an error", async () => {
  const m = wordModel(VOCAB, bigramRule(AFTER));
  let msg = "";
  try {
    await evaluateRecord(REQUEST, m, { fluency: false });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("record 3: locality needs the unedited model"), msg);
  try {
    await evaluateRecord(REQUEST, m, {
      fluency: false,
      baseline: { Relation_Specificity: [[id("Paris")]] },
    });
    msg = "";
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(/baseline has no tokens for Relation_Specificity\[1\]/.test(msg), msg);
});

Deno.test("fluency is on by default, seeded, and equals the entropy of its text", async () => {
  const m = wordModel(VOCAB, (p) => {
    const l = new Float32Array(VOCAB.length);
    l[(p[p.length - 1] * 7 + 3) % VOCAB.length] = 1;
    return l;
  });
  const before = wordModel(VOCAB, bigramRule(BEFORE));
  const baseline = await localityBaseline(before, REQUEST);
  const r = await evaluateRecord(REQUEST, m, { baseline, fluency: { maxLength: 30 } });
  assert(r.fluency !== undefined && r.fluency > 0);
  assertEquals(r.fluency, nGramEntropyScore(r.fluencyText!));
  const again = await evaluateRecord(REQUEST, m, { baseline, fluency: { maxLength: 30 } });
  assertEquals(again.fluency, r.fluency);
  const other = await evaluateRecord(REQUEST, m, { baseline, fluency: { maxLength: 30, seed: 9 } });
  assert(other.fluencyText !== r.fluencyText);
});

Deno.test("summarize: means x100 over the records that have each metric", () => {
  const recs: RecordMetrics[] = [
    { editSucc: 1, portability: 0.5, portabilityByKind: { A: 0.5 }, fluency: 5 },
    { editSucc: 0.5, portability: 1, portabilityByKind: { A: 1, B: 1 }, locality: 0.25 },
    { editSucc: 0 },
  ];
  const s = summarize(recs);
  assertEquals(s.editSucc, 50);
  assertEquals(s.portability, 75); // record 3 has no portability: excluded, not 0
  assertEquals(s.locality, 25);
  assertEquals(s.fluency, 500);
  assertEquals("generalization" in s, false);
  assertEquals(s.portabilityByKind, { A: 75, B: 100 });
  assertEquals(s.localityByKind, {});
  assertEquals(s.counts, {
    records: 3,
    editSucc: 3,
    generalization: 0,
    portability: 2,
    locality: 1,
    fluency: 1,
    efficacy: 0,
    paraphrase: 0,
    neighborhood: 0,
    cfScore: 0,
  });
  assertEquals(summarize([]).counts.records, 0);
  assertEquals("editSucc" in summarize([]), false);
  assertThrows(() => summarize([{ editSucc: NaN }]), RangeError);
  assertEquals(meanDefined([undefined, 2, undefined, 4]), 3);
  assertEquals(meanDefined([undefined]), undefined);
});

Deno.test("summarize equals a direct float64 mean on random records", () => {
  const score = fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined });
  fc.assert(
    fc.property(
      fc.array(fc.record({ e: fc.double({ min: 0, max: 1, noNaN: true }), p: score, l: score }), {
        maxLength: 20,
      }),
      (rows) => {
        const recs: RecordMetrics[] = rows.map((r) => {
          const m: RecordMetrics = { editSucc: r.e };
          if (r.p !== undefined) m.portability = r.p;
          if (r.l !== undefined) m.locality = r.l;
          return m;
        });
        const s = summarize(recs);
        const ref = (xs: (number | undefined)[]) => {
          const d = xs.filter((x): x is number => x !== undefined);
          return d.length ? (d.reduce((a, b) => a + b, 0) / d.length) * 100 : undefined;
        };
        for (
          const [k, xs] of [
            ["editSucc", rows.map((r) => r.e)],
            ["portability", rows.map((r) => r.p)],
            ["locality", rows.map((r) => r.l)],
          ] as const
        ) {
          const want = ref(xs), got = s[k];
          if (want === undefined) assertEquals(got, undefined);
          else assert(Math.abs(got! - want) < 1e-9, `${k}: ${got} vs ${want}`);
        }
      },
    ),
    { numRuns: 100 },
  );
});
