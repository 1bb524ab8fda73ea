// Fluency: nltk-compatible word tokens, EasyEdit's weighted n-gram entropy, seeded top-k
// sampling and generation length rules.

import {
  deepEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import fc from "fast-check";
import {
  cleanGeneratedText,
  fluency,
  generateTopK,
  ngramEntropy,
  nGramEntropyScore,
  sampleTopKToken,
  wordTokenize,
} from "../../src/eval/fluency.ts";
import { mulberry32 } from "../../src/random/rng.ts";
import { wordModel } from "./fake_model.ts";

interface Fixture {
  text: string;
  tokens: string;
  entropy: number;
}
const FIXTURES: { nltk: string; cases: Fixture[] } = JSON.parse(
  Deno.readTextFileSync(new URL("./nltk_fixtures.json", import.meta.url)),
);

Deno.test("wordTokenize matches nltk 3.8 token for token on the fixtures", () => {
  assert(FIXTURES.cases.length > 300);
  for (const c of FIXTURES.cases) {
    const want = c.tokens.length === 0 ? [] : c.tokens.split(" ");
    assertEquals(wordTokenize(c.text), want, `text ${JSON.stringify(c.text)}`);
  }
});

Deno.test("nGramEntropyScore matches EasyEdit's compute_n_gram_entropy on the fixtures", () => {
  for (const c of FIXTURES.cases) {
    const got = nGramEntropyScore(c.text);
    assert(Math.abs(got - c.entropy) <= 1e-9, `${JSON.stringify(c.text)}: ${got} vs ${c.entropy}`);
  }
});

Deno.test("ngramEntropy: known values", () => {
  const w = (s: string) => s.split(" ");
  // a b a b -> bigrams ab, ba, ab: p = 2/3, 1/3.
  const h = -(2 / 3) * Math.log2(2 / 3) - (1 / 3) * Math.log2(1 / 3);
  assert(Math.abs(ngramEntropy(w("a b a b"), 2) - h) < 1e-12);
  assertEquals(ngramEntropy(w("a a a a a"), 2), 0);
  assertEquals(ngramEntropy(w("a b c d e"), 3), Math.log2(3));
  assertEquals(ngramEntropy(w("a"), 2), 0);
  assertEquals(ngramEntropy([], 3), 0);
  assertThrows(() => ngramEntropy(["a"], 0), RangeError);
  // The weights: k distinct words -> (2/3 log2(k-1) + 4/3 log2(k-2)) / 2.
  const k = 12;
  const text = Array.from({ length: k }, (_, i) => `w${i}`).join(" ");
  const want = (2 / 3 * Math.log2(k - 1) + 4 / 3 * Math.log2(k - 2)) / 2;
  assert(Math.abs(nGramEntropyScore(text) - want) < 1e-12);
  assertEquals(nGramEntropyScore("Rome Rome Rome Rome Rome"), 0);
});

Deno.test("ngramEntropy equals a float64 reference on random token lists", () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom("a", "b", "c", "d", ".", "x y"), { maxLength: 40 }),
      fc.integer({ min: 1, max: 4 }),
      (tokens, n) => {
        const grams: string[] = [];
        for (let i = 0; i + n <= tokens.length; i++) {
          grams.push(JSON.stringify(tokens.slice(i, i + n)));
        }
        grams.sort();
        let h = 0;
        for (let i = 0; i < grams.length;) {
          let j = i;
          while (j < grams.length && grams[j] === grams[i]) j++;
          const p = (j - i) / grams.length;
          h -= p * Math.log2(p);
          i = j;
        }
        const got = ngramEntropy(tokens, n);
        assert(Math.abs(got - h) < 1e-12, `${got} vs ${h}`);
        assert(got >= 0 && got <= Math.log2(Math.max(1, grams.length)) + 1e-12);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("cleanGeneratedText does EasyEdit's post-processing", () => {
  assertEquals(cleanGeneratedText("a\n\nb<|endoftext|>"), "a b");
  assertEquals(cleanGeneratedText("é"), "e\u0301"); // NFKD
  assertEquals(cleanGeneratedText("ﬁ"), "fi");
});

Deno.test("mulberry32 is deterministic, in [0, 1), roughly uniform", () => {
  const a = mulberry32(42), b = mulberry32(42), c = mulberry32(43);
  const xs = Array.from({ length: 10000 }, () => a());
  assertEquals(xs.slice(0, 5), Array.from({ length: 5 }, () => b()));
  assert(xs[0] !== c());
  assert(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
});

/** Reference top-k: ids sorted by logit descending, then id ascending. */
function topKRef(logits: number[], k: number): Set<number> {
  const ids = logits.map((_, i) => i).sort((x, y) => logits[y] - logits[x] || x - y);
  return new Set(ids.slice(0, k));
}

Deno.test("sampleTopKToken only draws from the top k (ties: lower id first)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer(),
      (logits, k, seed) => {
        const rng = mulberry32(seed);
        const allowed = topKRef(logits, k);
        for (let i = 0; i < 20; i++) {
          const t = sampleTopKToken(logits, k, rng);
          assert(allowed.has(t), `token ${t} not in top-${k} of ${logits}`);
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("sampleTopKToken follows the renormalised softmax of the top k", () => {
  const logits = [0, 1, 2, 3, 4, 5, 6];
  const k = 3;
  const w = [6, 5, 4].map((v) => Math.exp(v));
  const z = w.reduce((a, b) => a + b, 0);
  const want = new Map([[6, w[0] / z], [5, w[1] / z], [4, w[2] / z]]);
  const rng = mulberry32(7);
  const n = 20000;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const t = sampleTopKToken(logits, k, rng);
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  for (const [t, p] of want) {
    const got = (counts.get(t) ?? 0) / n;
    assert(Math.abs(got - p) < 0.015, `token ${t}: ${got} vs ${p}`);
  }
  assertEquals([...counts.keys()].sort(), [4, 5, 6]);
});

Deno.test("sampleTopKToken edge cases", () => {
  let draws = 0;
  const counting = () => {
    draws++;
    return 0.5;
  };
  assertEquals(sampleTopKToken([1, 9, 3], 1, counting), 1); // greedy
  assertEquals(draws, 1); // exactly one draw per token
  assertEquals(sampleTopKToken([2], 5, counting), 0); // k > V
  assertEquals(sampleTopKToken([-Infinity, 0, -Infinity], 2, () => 0.999999), 1);
  assertEquals(sampleTopKToken([0, Infinity, 1], 3, () => 0.9), 1);
  assertThrows(() => sampleTopKToken([0, NaN], 2, counting), RangeError);
  assertThrows(() => sampleTopKToken([-Infinity, -Infinity], 2, counting), RangeError);
  assertThrows(() => sampleTopKToken([], 2, counting), RangeError);
  assertThrows(() => sampleTopKToken([1, 2], 0, counting), RangeError);
  // rng() at its extremes stays in range.
  assertEquals(sampleTopKToken([0, 0, 0], 3, () => 0), 0);
  assertEquals(sampleTopKToken([0, 0, 0], 3, () => 1 - 2 ** -32), 2);
});

const VOCAB = ["<s>", "the", "cat", "sat", "on", "mat", ".", "END"];

Deno.test("generateTopK: total length, EOS, long prompts, the generate hook", async () => {
  // A uniform model over the whole vocabulary.
  const m = wordModel(VOCAB, () => new Float32Array(VOCAB.length));
  const rng = mulberry32(1);
  const prompt = [1, 2];
  const ids = await generateTopK(m, prompt, { maxLength: 10, topK: 5, rng });
  assertEquals(ids.length, 10);
  assertEquals(ids.slice(0, 2), prompt);
  assert(ids.slice(2).every((t) => t >= 0 && t < 5)); // top-5 of a tie = ids 0..4
  assertEquals(m.calls, 8); // one forward pass per sampled token
  // A prompt already at the length limit is returned unchanged, no forward pass.
  const long = [1, 2, 3, 4];
  assertEquals(await generateTopK(m, long, { maxLength: 4, topK: 5, rng }), long);
  assertEquals(m.calls, 8);
  // EOS stops generation, the EOS token kept.
  const eosModel = wordModel(VOCAB, (p) => (p.length >= 4 ? 7 : 2));
  const e = await generateTopK(eosModel, [1], { maxLength: 50, topK: 1, rng, eosId: 7 });
  assertEquals(e, [1, 2, 2, 2, 7]);
  // The hook replaces the nextLogits loop.
  let hookCalls = 0;
  const hooked = wordModel(VOCAB, () => 0, {
    generate: (x, o) => {
      hookCalls++;
      return Promise.resolve([...x, ...Array(o.maxLength - x.length).fill(3)]);
    },
  });
  assertEquals(await generateTopK(hooked, [1], { maxLength: 4, topK: 5, rng }), [1, 3, 3, 3]);
  assertEquals(hookCalls, 1);
  assertEquals(hooked.calls, 0);
});

Deno.test("fluency: EasyEdit defaults, seeded, prompt included", async () => {
  const m = wordModel(VOCAB, (p) => {
    // Prefers a cycle the cat sat on the mat . with some spread so sampling varies.
    const next = [1, 2, 3, 4, 1, 5, 6, 1][p[p.length - 1]];
    const l = new Float32Array(VOCAB.length).fill(0);
    l[next] = 2;
    return l;
  });
  const a = await fluency(m, "the cat");
  assertEquals(a.ids.length, 100); // max_out_len counts the prompt
  assert(a.text.startsWith("the cat "));
  assertEquals(a.entropy, nGramEntropyScore(a.text));
  assert(a.entropy > 0);
  const b = await fluency(m, "the cat", { seed: 0 });
  assertEquals(b, a); // default seed 0, deterministic
  const c = await fluency(m, "the cat", { seed: 5 });
  assert(c.text !== a.text);
  const d = await fluency(m, "the cat", { seed: 5, includePrompt: false, maxLength: 12 });
  assertEquals(d.ids.length, 12);
  assertEquals(d.text, m.decode(d.ids.slice(2)));
  // A degenerate (greedy, repeating) model has entropy 0... over its repeated words.
  const stuck = wordModel(VOCAB, () => 5);
  const s = await fluency(stuck, "mat", { topK: 1 });
  assertEquals(s.entropy, 0);
});
