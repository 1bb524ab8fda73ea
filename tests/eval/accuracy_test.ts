// Token accuracy (Edit Succ. / Generalization / Portability) and locality tokens on hand-made
// models with known answers, plus property tests against a plain reference.

import {
  deepEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import fc from "fast-check";
import {
  localityScore,
  localityTokens,
  splitPromptTarget,
  tokenAccuracy,
} from "../../src/eval/accuracy.ts";
import { argmax, type EvalModel, TokenizationError } from "../../src/eval/model.ts";
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
  "New",
  "York",
  "City",
  "a",
  "b",
];
const id = (w: string) => VOCAB.indexOf(w);
const PROMPT = "The capital of France is";

async function rejects(p: Promise<unknown>, cls: new (...a: never[]) => Error, re?: RegExp) {
  try {
    await p;
  } catch (e) {
    assert(e instanceof cls, `expected ${cls.name}, got ${e}`);
    if (re) assert(re.test((e as Error).message), (e as Error).message);
    return;
  }
  throw new Error(`expected ${cls.name}, nothing was thrown`);
}

Deno.test("single-token target: hit scores 1, miss scores 0", async () => {
  const m = wordModel(VOCAB, bigramRule({ [id("is")]: id("Rome") }));
  assertEquals(await tokenAccuracy(m, PROMPT, "Rome"), 1);
  assertEquals(await tokenAccuracy(m, PROMPT, "Paris"), 0);
});

Deno.test("multi-token target gets partial credit, teacher forced", async () => {
  // After "is" the model says New, after New York, after York Paris: 2 of 3 right.
  const m = wordModel(
    VOCAB,
    bigramRule({ [id("is")]: id("New"), [id("New")]: id("York"), [id("York")]: id("Paris") }),
  );
  assertEquals(await tokenAccuracy(m, PROMPT, "New York City"), 2 / 3);
  // First token wrong, but the later positions see the gold tokens (teacher forcing): 2/3.
  const m2 = wordModel(
    VOCAB,
    bigramRule({ [id("is")]: id("Paris"), [id("New")]: id("York"), [id("York")]: id("City") }),
  );
  assertEquals(await tokenAccuracy(m2, PROMPT, "New York City"), 2 / 3);
  assertEquals(await tokenAccuracy(m2, PROMPT, "York City"), 1 / 2);
});

Deno.test("the prediction is read at the preceding position, not the token's own", async () => {
  // A model that 'predicts' the token it is reading (argmax at i = ids[i]) never scores.
  const copy = wordModel(VOCAB, (prefix) => prefix[prefix.length - 1]);
  assertEquals(await tokenAccuracy(copy, PROMPT, "New York City"), 0);
  const pt = splitPromptTarget(copy, PROMPT, "New York City");
  assertEquals(pt.promptLength, 5);
  assertEquals(pt.ids.slice(5), [id("New"), id("York"), id("City")]);
});

Deno.test("a BOS token counts as a prompt token and changes nothing", async () => {
  const rule = bigramRule({ [id("is")]: id("New"), [id("New")]: id("York") });
  const m = wordModel(VOCAB, rule, { bos: true });
  assertEquals(splitPromptTarget(m, PROMPT, "New York City").promptLength, 6);
  assertEquals(await tokenAccuracy(m, PROMPT, "New York City"), 2 / 3);
  // With BOS even a one-word prompt-less probe is scorable: BOS predicts the first word.
  const m2 = wordModel(VOCAB, bigramRule({ 0: id("Rome") }), { bos: true });
  assertEquals(await tokenAccuracy(m2, "", "Rome"), 1);
});

Deno.test("tokenisations the metric cannot score are TokenizationErrors", async () => {
  // A tokenizer that merges "is Rome" into one token: the prompt's tokens are not a prefix.
  const vocab = [...VOCAB, "isRome"];
  const base = wordModel(vocab, () => 0);
  const merging: EvalModel = {
    ...base,
    encode: (t) => base.encode(t.replace("is Rome", "isRome")),
    argmaxes: (ids) => base.argmaxes(ids),
    nextLogits: (ids) => base.nextLogits(ids),
  };
  await rejects(tokenAccuracy(merging, PROMPT, "Rome"), TokenizationError, /not a prefix/);
  assertEquals(await tokenAccuracy(merging, PROMPT, "Paris"), 0);
  // No prompt tokens (and no BOS): nothing predicts the first target token.
  await rejects(tokenAccuracy(base, "", "Rome"), TokenizationError, /no tokens/);
  // A target that adds no tokens.
  await rejects(tokenAccuracy(base, PROMPT, "  "), TokenizationError, /adds no tokens/);
  await rejects(localityTokens(base, PROMPT, " "), TokenizationError);
});

Deno.test("argmaxes of the wrong length are rejected", async () => {
  const base = wordModel(VOCAB, () => 0);
  const bad: EvalModel = { ...base, argmaxes: (ids) => Promise.resolve(ids.slice(1)) };
  await rejects(tokenAccuracy(bad, PROMPT, "Rome"), RangeError, /argmaxes returned/);
});

Deno.test("ties resolve to the lowest token id (torch.argmax)", async () => {
  assertEquals(argmax([1, 3, 3, 2]), 1);
  assertEquals(argmax([-Infinity, -Infinity]), 0);
  assertEquals(argmax([5, 0, 9, 9, 1], 1, 3), 1); // window [0, 9, 9] -> index 1 of the window
  assertEquals(argmax(new Float32Array([0, 0, 0])), 0);
  assertThrows(() => argmax([]), RangeError);
  assertThrows(() => argmax([1, NaN]), RangeError);
  assertThrows(() => argmax([NaN, 1]), RangeError);
  // Paris (id 6) and Rome (id 7) tie after "is": Paris wins.
  const tie = wordModel(VOCAB, (prefix) => {
    const l = new Float32Array(VOCAB.length);
    if (prefix[prefix.length - 1] === id("is")) l[id("Paris")] = l[id("Rome")] = 5;
    return l;
  });
  assertEquals(await tokenAccuracy(tie, PROMPT, "Rome"), 0);
  assertEquals(await tokenAccuracy(tie, PROMPT, "Paris"), 1);
});

Deno.test("locality: argmax tokens at the answer positions, fraction unchanged", async () => {
  const before = wordModel(
    VOCAB,
    bigramRule({ [id("is")]: id("New"), [id("New")]: id("York"), [id("York")]: id("City") }),
  );
  const after = wordModel(
    VOCAB,
    bigramRule({ [id("is")]: id("New"), [id("New")]: id("a"), [id("York")]: id("City") }),
  );
  const b = await localityTokens(before, PROMPT, "New York City");
  const a = await localityTokens(after, PROMPT, "New York City");
  assertEquals(b, [id("New"), id("York"), id("City")]);
  assertEquals(a, [id("New"), id("a"), id("City")]);
  assertEquals(localityScore(b, a), 2 / 3);
  assertEquals(localityScore(b, b), 1);
  // Locality compares predictions, not correctness: a wrong but unchanged answer scores 1.
  const wrong = await localityTokens(before, PROMPT, "Paris");
  assertEquals(localityScore(wrong, await localityTokens(after, PROMPT, "Paris")), 1);
  assertThrows(() => localityScore([1, 2], [1]), RangeError);
  assertThrows(() => localityScore([], []), RangeError);
});

// Property: on random bigram tables and random word sequences, the accuracy equals a count
// written out directly from the definition.
Deno.test("tokenAccuracy matches the definition on random bigram models", async () => {
  const V = 7;
  const vocab = Array.from({ length: V }, (_, i) => (i === 0 ? "<s>" : `w${i}`));
  const word = fc.integer({ min: 1, max: V - 1 });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: V, maxLength: V }),
      fc.array(word, { minLength: 1, maxLength: 6 }),
      fc.array(word, { minLength: 1, maxLength: 5 }),
      fc.boolean(),
      async (table, prompt, target, bos) => {
        const m = wordModel(vocab, (p) => table[p[p.length - 1]], { bos });
        const text = (ws: number[]) => ws.map((w) => vocab[w]).join(" ");
        let hits = 0;
        let prev = prompt[prompt.length - 1];
        for (const t of target) {
          if (table[prev] === t) hits++;
          prev = t;
        }
        assertEquals(await tokenAccuracy(m, text(prompt), text(target)), hits / target.length);
        const loc = await localityTokens(m, text(prompt), text(target));
        assertEquals(loc, [prompt[prompt.length - 1], ...target.slice(0, -1)].map((w) => table[w]));
      },
    ),
    { numRuns: 200 },
  );
});

// Property: with random small-integer logits (many ties) the accuracy equals a float64
// reference argmax (first maximum) taken over the same logits.
Deno.test("tokenAccuracy with tied random logits matches a reference argmax", async () => {
  const V = 5;
  const vocab = Array.from({ length: V }, (_, i) => `t${i}`);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.integer({ min: -2, max: 2 }), { minLength: V, maxLength: V }), {
        minLength: V,
        maxLength: V,
      }),
      fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 1, maxLength: 4 }),
      async (logitsByLast, prompt, target) => {
        const m = wordModel(vocab, (p) => logitsByLast[p[p.length - 1]]);
        const refArgmax = (row: number[]) => row.indexOf(Math.max(...row));
        const ids = [...prompt, ...target];
        let hits = 0;
        for (let j = 0; j < target.length; j++) {
          const at = prompt.length + j;
          if (refArgmax(logitsByLast[ids[at - 1]]) === ids[at]) hits++;
        }
        const text = (ws: number[]) => ws.map((w) => vocab[w]).join(" ");
        assertEquals(await tokenAccuracy(m, text(prompt), text(target)), hits / target.length);
      },
    ),
    { numRuns: 200 },
  );
});
