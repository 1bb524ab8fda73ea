import assert from "node:assert/strict";
import { buildCorpus, type Probe } from "../../src/facts/corpus.ts";
import { buildWorld } from "../../src/facts/world.ts";
import {
  AUX_TEMPLATES,
  sentence,
  TEMPLATES,
  TWO_HOP_TEMPLATES,
} from "../../src/facts/templates.ts";

const corpus = buildCorpus();
const train = new Set(corpus.train);

/** Every word-boundary prefix of every training sentence ("The", "The capital", ...). */
const prefixes = new Set<string>();
for (const s of corpus.train) {
  const words = s.split(" ");
  for (let i = 1; i <= words.length; i++) prefixes.add(words.slice(0, i).join(" "));
}

/** A template as a regex that matches any filled training sentence. */
const templateRegex = (tpl: string) => {
  const esc = tpl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace("\\{s\\}", "(.+)");
  return new RegExp(`^${esc} (.+) \\.$`);
};

Deno.test("corpus: shape and sentence form", () => {
  assert.ok(corpus.train.length > 5000, `${corpus.train.length}`);
  assert.equal(train.size, corpus.train.length, "duplicate sentences");
  for (const s of corpus.train) {
    assert.ok(s.endsWith(" ."), s);
    assert.ok(!s.includes("  ") && s === s.trim(), s);
  }
  const { train_facts, heldout_templates, two_hop } = corpus.evalSets;
  assert.equal(train_facts.length, 241 * 4 + 300);
  assert.equal(heldout_templates.length, train_facts.length * 2);
  assert.ok(two_hop.length > 300, `${two_hop.length}`);
  // Every one-hop fact is trained in every train template.
  for (const p of train_facts) assert.ok(train.has(sentence(p.prompt, p.answer)), p.prompt);
  for (const p of corpus.evalSets.two_hop_train) assert.ok(train.has(sentence(p.prompt, p.answer)));
  for (const p of corpus.evalSets.aliases) assert.ok(train.has(sentence(p.prompt, p.answer)));
  // Every probe names the template it was filled from (recall's per-phrasing report).
  for (const set of Object.values(corpus.evalSets)) {
    for (const p of set) assert.equal(p.phrasing.replace("{s}", p.subject), p.prompt);
  }
  assert.equal(new Set(heldout_templates.map((p) => p.phrasing)).size, 2 * 5);
});

Deno.test("corpus: a few exact sentences", () => {
  for (
    const s of [
      "The capital of France is Paris .",
      "France's capital is Paris .",
      "Lyon is a city in France .",
      "Paris is the capital of France .",
      "Deutschland is another name for Germany .",
      "The capital of Deutschland is Berlin .",
    ]
  ) assert.ok(train.has(s), s);
});

Deno.test("corpus: held-out templates never appear in training", () => {
  for (const t of Object.values(TEMPLATES)) {
    for (const tpl of t.heldout) {
      const re = templateRegex(tpl);
      for (const s of corpus.train) assert.ok(!re.test(s), `${tpl} matches ${s}`);
      assert.ok(!t.train.includes(tpl));
    }
  }
  for (const p of corpus.evalSets.heldout_templates) {
    assert.ok(!prefixes.has(p.prompt), p.prompt);
  }
});

Deno.test("corpus: held-out two-hop probes are not trained, their one-hop facts are", () => {
  const world = buildWorld();
  const held = new Set(corpus.heldoutBridges);
  const { two_hop, two_hop_train } = corpus.evalSets;
  assert.ok(two_hop.length > 0 && two_hop_train.length > two_hop.length);
  const heldSubjects = new Set(two_hop.map((p: Probe) => p.subject));
  for (const p of two_hop) {
    assert.ok(held.has(p.subject));
    assert.ok(!prefixes.has(p.prompt), p.prompt);
  }
  for (const p of two_hop_train) assert.ok(!heldSubjects.has(p.subject), p.subject);
  // No two-hop sentence of a held-out bridge in training, in any form.
  const where = new RegExp(
    TWO_HOP_TEMPLATES.via_city.replace("{n}", "(.+)").replace("{s}", "(.+)"),
  );
  const whose = new RegExp(
    TWO_HOP_TEMPLATES.via_capital.replace("{n}", "(.+)").replace("{s}", "(.+)"),
  );
  let nTwoHop = 0;
  for (const s of corpus.train) {
    const m = s.match(where) ?? s.match(whose);
    if (!m) continue;
    nTwoHop++;
    assert.ok(!held.has(m[2]), s);
  }
  assert.equal(nTwoHop, two_hop_train.length);
  // The one-hop facts a held-out probe composes are trained.
  const cityCountry = new Map(world.cities.map((c) => [c.name, c.country]));
  for (const p of two_hop) {
    if (p.relation.startsWith("via_city:")) {
      assert.ok(
        train.has(
          sentence(
            TEMPLATES.city_country.train[0].replace("{s}", p.subject),
            cityCountry.get(p.subject)!,
          ),
        ),
      );
    } else {
      const c = world.countries.find((x) => x.capital === p.subject)!;
      assert.ok(train.has(sentence(AUX_TEMPLATES.capital_of[0].replace("{s}", p.subject), c.name)));
    }
  }
});

Deno.test("corpus: deterministic given the seed", () => {
  const world = buildWorld();
  const a = buildCorpus({ seed: 7, world });
  const b = buildCorpus({ seed: 7, world });
  assert.deepEqual(a, b);
  const c = buildCorpus({ seed: 8, world });
  assert.notDeepEqual(a.train, c.train);
  assert.notDeepEqual(a.heldoutBridges, c.heldoutBridges);
  assert.deepEqual([...a.train].sort(), [...buildCorpus({ seed: 7, world }).train].sort());
  // The default corpus (cached) equals a fresh build with the default seed.
  assert.deepEqual(buildCorpus({ world }), corpus);
});
