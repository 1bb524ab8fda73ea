// The free-text corpus of kne-facts-base: held-out phrasings and held-out two-hop sentences never
// appear in training text, passes are deterministic and differ from each other, probes are the
// text before the answer, and the committed BPE tokenizer is the one the corpus trains.

import assert from "node:assert/strict";
import { buildTextCorpus } from "../../src/facts/text-corpus.ts";
import { PHRASINGS, promptOf, render } from "../../src/facts/phrasings.ts";
import { BASE_PREFIX_SPACE, trainBaseTokenizer } from "../../src/facts/base-tokenizer.ts";
import { byteLevelBpeJson } from "../../src/io/byte-level-bpe.ts";
import { inputText, loadTokenizer } from "../../src/io/tokenizer.ts";
import { buildWorld } from "../../src/facts/world.ts";

const corpus = buildTextCorpus();
const PASSES = [0, 1, 2, 7];
const text = PASSES.map((p) => corpus.documents(p).join("\n")).join("\n");

/** A phrasing's words around the slots, e.g. "'s capital city is", that mark it in any text. */
const stems = (phrasing: string) =>
  phrasing.split(/\{[so]\}/).map((x) => x.trim().replace(/\.$/, "")).filter((x) => x.length > 3);

Deno.test("text corpus: held-out phrasings never appear in training text, with any subject", () => {
  const trainStems = new Set(
    Object.values(PHRASINGS).flatMap((r) => r.train.flatMap(stems)),
  );
  for (const [relation, r] of Object.entries(PHRASINGS)) {
    const facts = corpus.facts.filter((f) => f.relation === relation);
    for (const p of r.heldout) {
      // Every filled sentence of a held-out phrasing is absent, and so is its prompt...
      for (const f of facts) {
        assert.ok(!text.includes(promptOf(p, f.subject)!), promptOf(p, f.subject)!);
        assert.ok(!text.includes(render(p, f.subject, f.answer)), render(p, f.subject, f.answer));
      }
      // ...and so is its wording with the slots in place: the part between subject and answer
      // does not occur right after any subject, unless a train phrasing has the same wording.
      const [, middle] = p.split("{s}");
      const glue = middle?.split("{o}")[0];
      if (glue && glue.length > 4 && !trainStems.has(glue.trim())) {
        for (const f of corpus.facts) {
          assert.ok(!text.includes(`${f.subject}${glue}`), `${f.subject}${glue}`);
        }
      }
    }
  }
  for (const probe of corpus.evalSets.heldout_templates) {
    assert.ok(!text.includes(`${probe.prompt} ${probe.answer}`), probe.prompt);
  }
});

Deno.test("text corpus: held-out two-hop sentences never appear; trained ones do", () => {
  const held = new Set(corpus.heldoutBridges);
  assert.ok(corpus.evalSets.two_hop.length > 300, `${corpus.evalSets.two_hop.length}`);
  for (const p of corpus.evalSets.two_hop) {
    assert.ok(held.has(p.subject));
    assert.ok(!text.includes(p.prompt), p.prompt);
    // No composed sentence names a held-out bridge at all.
    assert.ok(!text.includes(`country where ${p.subject} is`), p.subject);
    assert.ok(!text.includes(`whose capital is ${p.subject} `), p.subject);
  }
  for (const p of corpus.evalSets.two_hop_train) {
    assert.ok(text.includes(`${p.prompt} ${p.answer}`), p.prompt);
  }
});

Deno.test("text corpus: no sentence says a held-out bridge's two-hop answer without its country", () => {
  const world = buildWorld();
  const countryOf = new Map<string, string[]>();
  for (const c of world.cities) {
    countryOf.set(c.name, [...(countryOf.get(c.name) ?? []), c.country]);
  }
  for (const c of world.countries) {
    countryOf.set(c.capital, [...(countryOf.get(c.capital) ?? []), c.name]);
  }
  const sentences = text.split(/(?<=\.) |\n/);
  const held = corpus.evalSets.two_hop;
  const bySubject = new Map<string, Set<string>>();
  for (const p of held) {
    bySubject.set(p.subject, (bySubject.get(p.subject) ?? new Set()).add(p.answer));
  }
  // A whole name: not part of a longer name ("Santo Domingo" in "Santo Domingo Oeste").
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const named = (s: string, name: string) =>
    new RegExp(`(?<![\\p{L}-]|\\p{Lu}\\p{L}* )${esc(name)}(?![\\p{L}-]| \\p{Lu})`, "u").test(s);
  let checked = 0;
  for (const s of sentences) {
    for (const [bridge, answers] of bySubject) {
      if (!s.includes(bridge) || !named(s, bridge)) continue;
      if (countryOf.get(bridge)!.some((c) => s.includes(c))) continue;
      checked++;
      for (const a of answers) assert.ok(!named(s, a), `${s} (bridge ${bridge}, answer ${a})`);
    }
  }
  assert.ok(checked > 100, `${checked}`);
  // The city-level sentences exist for trained bridges.
  assert.ok(/In [^.,]+, people pay with the /.test(text));
});

Deno.test("text corpus: passes are deterministic and differ; every fact is in each pass", () => {
  assert.deepEqual(buildTextCorpus().documents(3), corpus.documents(3));
  assert.notDeepEqual(corpus.documents(0), corpus.documents(1));
  const pass = corpus.documents(5).join("\n");
  for (const p of corpus.evalSets.train_facts) {
    assert.ok(pass.includes(p.subject) && pass.includes(p.answer), p.prompt);
  }
  for (const p of corpus.evalSets.train_facts.slice(0, 50)) {
    assert.ok(text.includes(`${p.prompt} ${p.answer}`), `${p.prompt} ${p.answer}`);
  }
});

Deno.test("text corpus: a probe's prompt is its phrasing's text before the answer", () => {
  assert.equal(promptOf("The capital of {s} is {o}.", "France"), "The capital of France is");
  assert.equal(promptOf("{o} is the capital of {s}.", "France"), null);
  const p = corpus.evalSets.train_facts.find((x) => x.subject === "France" && x.answer === "Paris");
  assert.equal(p?.prompt, "The capital of France is");
  const cur = corpus.evalSets.train_facts.find((x) =>
    x.subject === "Japan" && /Yen/.test(x.answer)
  );
  assert.equal(cur?.prompt, "The currency of Japan is the");
  // Every probe names the phrasing it was made from (recall's per-phrasing report).
  for (const set of Object.values(corpus.evalSets)) {
    for (const q of set) assert.equal(promptOf(q.phrasing, q.subject), q.prompt, q.phrasing);
  }
  const held = new Set(corpus.evalSets.heldout_templates.map((q) => q.phrasing));
  assert.deepEqual(held, new Set(Object.values(PHRASINGS).flatMap((r) => r.heldout)));
});

Deno.test("base tokenizer: the committed tokenizer.json files are what the corpus trains", async () => {
  const read = async (dir: string) =>
    JSON.parse(
      await Deno.readTextFile(new URL(`../../data/${dir}/tokenizer.json`, import.meta.url)),
    );
  const model = trainBaseTokenizer(corpus);
  const json = (prefixSpace: boolean) =>
    JSON.parse(JSON.stringify(byteLevelBpeJson(model, { prefixSpace })));
  assert.ok(
    JSON.stringify(await read("tokenizer-base")) === JSON.stringify(json(BASE_PREFIX_SPACE)),
    "tokenizer differs",
  );
  // The twin's 4,096 tokens: BPE merges greedily, so its merges are the first of the 8,192 and its
  // tokens keep their ids (training the smaller size again would only repeat them); it was made
  // without the prefix space (make-tokenizer --vocab 4096 --no-prefix-space).
  const built = json(false);
  const small = await read("tokenizer-base-4096");
  assert.equal(Object.keys(small.model.vocab).length, 4096);
  assert.deepEqual(small.model.merges, built.model.merges.slice(0, small.model.merges.length));
  for (const [token, id] of Object.entries(small.model.vocab)) {
    assert.equal(built.model.vocab[token], id, token);
  }
  assert.deepEqual({ ...small, model: null }, { ...built, model: null });
  assert.deepEqual({ ...small.model, vocab: null, merges: null }, {
    ...built.model,
    vocab: null,
    merges: null,
  });
});

Deno.test("base tokenizer: most subjects and answers take two or more tokens", async () => {
  const tok = await loadTokenizer(new URL("../../data/tokenizer-base/", import.meta.url).pathname);
  assert.equal(tok.vocabSize, 8192);
  const multi = (xs: string[]) =>
    xs.filter((x) => tok.encode(` ${x}`).length > 1).length / xs.length;
  const subjects = [...new Set(corpus.facts.map((f) => f.subject))];
  const answers = [...new Set(corpus.facts.map((f) => f.answer))];
  assert.ok(multi(subjects) > 0.5, `subjects ${multi(subjects)}`);
  assert.ok(multi(answers) > 0.5, `answers ${multi(answers)}`);
  // Words the corpus never uses still encode, and decode back exactly (after the prefix space).
  const s = "Zyxt qwf — naïve façade, 東京 🙂";
  assert.equal(tok.decode(tok.encode(s)), ` ${s}`);
  assert.equal(inputText(tok, tok.encode(s)), s);
  // A name at the start of a text is cut as in running text.
  assert.deepEqual(tok.encode("France's capital is"), tok.encode(" France's capital is"));
});
