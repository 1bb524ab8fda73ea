// The free-text corpus of kne-facts-base: the fact world (src/facts/world.ts) written as short
// documents that read like text rather than one template per line.
//
// A training pass is a list of documents, sampled from a seed and the pass number, so every pass
// says the same facts in other words and orders:
// - paragraphs about a country: several of its facts (capital, continent, currency, language,
//   another name, some of its cities) in random TRAIN phrasings, mixed with generic sentences and
//   joined by connectives; how many paragraphs a country gets follows a Zipf-like prominence
//   (a seeded rank), so some facts are seen often and some rarely, as in pretraining text;
// - paragraphs about a city: its country, a generic sentence, and its country's capital;
// - loose fact sentences (each fact in its canonical phrasing and a few random train phrasings
//   per pass), grouped in fives;
// - aliases: "Burma is another name for Myanmar." and the country's facts with the alias as
//   subject (in the first three train phrasings of each relation);
// - two-hop sentences ("The currency of the country where Lyon is located is the Euro.", and half
//   the time the same fact said of the city: "In Lyon, people pay with the Euro.") for a share of
//   the bridge entities; the other bridges are HELD OUT: no composed sentence of theirs is ever in
//   training (their one-hop facts are);
// - appositives and clauses that follow a subject with its fact at once ("Lyon, France, has a
//   busy market."), as real text often does, among each relation's train phrasings.
// HELD-OUT phrasings (PHRASINGS[r].heldout) never occur in training. Probe sets have the shape of
// the template corpus's (src/facts/corpus.ts), so the same recall code scores them.

import { mulberry32, pick, type Rng, shuffled } from "../random/rng.ts";
import { type EvalSets, type Fact, mainFacts, type Probe, splitBridges } from "./corpus.ts";
import {
  ALIAS_PHRASINGS,
  CITY_HOP_PHRASINGS,
  CONNECTIVES,
  FILLERS,
  PHRASINGS,
  promptOf,
  render,
  twoHopPhrasing,
} from "./phrasings.ts";
import type { Relation } from "./templates.ts";
import {
  buildWorld,
  type Country,
  COUNTRY_RELATIONS,
  type CountryRelation,
  type World,
} from "./world.ts";

export interface TextCorpusOptions {
  seed?: number;
  /** Fraction of bridge entities whose two-hop sentences are trained (default 0.7). */
  twoHopTrainShare?: number;
  world?: World;
}

export interface TextCorpus {
  facts: Fact[];
  evalSets: EvalSets;
  /** Bridge entities whose two-hop sentences are held out (cities and capitals). */
  heldoutBridges: string[];
  /** The documents of training pass `pass` (deterministic from the seed and the pass). */
  documents(pass: number): string[];
}

export const TEXT_CORPUS_SEED = 20261204;

/** A sentence of the paragraph after the first: a connective, lower-casing a phrasing's word. */
function joinSentence(text: string, subject: string, rng: Rng): string {
  const c = pick(CONNECTIVES, rng);
  if (!c || text.startsWith(subject)) return c + text;
  return c + text[0].toLowerCase() + text.slice(1);
}

interface TwoHopSentence {
  kind: "via_city" | "via_capital";
  relation: CountryRelation;
  bridge: string;
  phrasing: string;
  answer: string;
}

function twoHops(world: World): TwoHopSentence[] {
  const byName = new Map(world.countries.map((c) => [c.name, c]));
  const out: TwoHopSentence[] = [];
  for (const city of world.cities) {
    const c = byName.get(city.country)!;
    for (const r of COUNTRY_RELATIONS) {
      if (r === "capital" && city.isCapital) continue;
      out.push({
        kind: "via_city",
        relation: r,
        bridge: city.name,
        phrasing: twoHopPhrasing("via_city", r),
        answer: c[r],
      });
    }
  }
  for (const c of world.countries) {
    if (!c.uniqueCapital) continue;
    for (const r of COUNTRY_RELATIONS) {
      if (r === "capital") continue;
      out.push({
        kind: "via_capital",
        relation: r,
        bridge: c.capital,
        phrasing: twoHopPhrasing("via_capital", r),
        answer: c[r],
      });
    }
  }
  return out;
}

function probe(phrasing: string, subject: string, answer: string, relation: string): Probe {
  return { prompt: promptOf(phrasing, subject)!, answer, relation, subject, phrasing };
}

export function buildTextCorpus(opts: TextCorpusOptions = {}): TextCorpus {
  const seed = opts.seed ?? TEXT_CORPUS_SEED;
  const world = opts.world ?? buildWorld();
  const facts = mainFacts(world);
  const held = splitBridges(world, seed, opts.twoHopTrainShare ?? 0.7);
  const hops = twoHops(world);
  const trainedHops = hops.filter((h) => !held.has(h.bridge));

  const train_facts = facts.map((f) => {
    const r = f.relation as Relation;
    return probe(PHRASINGS[r].train[0], f.subject, f.answer, r);
  });
  const heldout_templates = facts.flatMap((f) => {
    const r = f.relation as Relation;
    return PHRASINGS[r].heldout.map((p) => probe(p, f.subject, f.answer, r));
  });
  const hopProbe = (h: TwoHopSentence) =>
    probe(h.phrasing, h.bridge, h.answer, `${h.kind}:${h.relation}`);
  const two_hop = hops.filter((h) => held.has(h.bridge)).map(hopProbe);
  const two_hop_train = trainedHops.map(hopProbe);
  const aliased = world.countries.filter((c) => c.alias !== null);
  const aliases = aliased.flatMap((c) =>
    COUNTRY_RELATIONS.map((r) => probe(PHRASINGS[r].train[0], c.alias!, c[r], r))
  );

  // Prominence: a seeded rank, Zipf-like weight in (0, 1].
  const rank = new Map(
    shuffled(world.countries.map((c) => c.name), mulberry32(seed ^ 0x51f0)).map((n, i) => [n, i]),
  );
  const prominence = (c: Country) => 1 / (1 + rank.get(c.name)! / 25);
  const citiesOf = new Map<string, string[]>();
  for (const city of world.cities) {
    citiesOf.set(city.country, [...(citiesOf.get(city.country) ?? []), city.name]);
  }
  const byName = new Map(world.countries.map((c) => [c.name, c]));

  const countrySentence = (c: Country, subject: string, r: CountryRelation, rng: Rng) =>
    render(pick(PHRASINGS[r].train, rng), subject, c[r]);

  function countryParagraph(c: Country, rng: Rng): string {
    const items: ((rng: Rng) => string)[] = COUNTRY_RELATIONS.map((r) => (g: Rng) =>
      countrySentence(c, c.name, r, g)
    );
    if (c.alias) items.push((g) => render(pick(ALIAS_PHRASINGS, g), c.alias!, c.name));
    for (const city of shuffled(citiesOf.get(c.name) ?? [], rng).slice(0, 2)) {
      items.push((g) => render(pick(PHRASINGS.city_country.train, g), city, c.name));
    }
    const chosen = shuffled(items, rng).slice(0, 3 + Math.floor(rng() * 3));
    const fillers = shuffled(FILLERS, rng).slice(0, 1 + Math.floor(rng() * 2));
    const parts = chosen.map((f) => f(rng));
    for (const fl of fillers) {
      parts.splice(1 + Math.floor(rng() * parts.length), 0, render(fl, c.name, ""));
    }
    return parts.map((s, i) => (i === 0 ? s : joinSentence(s, c.name, rng))).join(" ");
  }

  function cityParagraph(name: string, country: Country, rng: Rng): string {
    const parts = [
      render(pick(PHRASINGS.city_country.train, rng), name, country.name),
      render(pick(FILLERS, rng), name, ""),
      countrySentence(country, country.name, pick(COUNTRY_RELATIONS, rng), rng),
    ];
    return parts.map((s, i) => (i === 0 ? s : joinSentence(s, name, rng))).join(" ");
  }

  function documents(pass: number): string[] {
    const rng = mulberry32((seed + 7919 * (pass + 1)) >>> 0);
    const docs: string[] = [];
    for (const c of world.countries) {
      const n = 1 + Math.round(3 * prominence(c) + rng());
      for (let i = 0; i < n; i++) docs.push(countryParagraph(c, rng));
    }
    for (const city of world.cities) {
      docs.push(cityParagraph(city.name, byName.get(city.country)!, rng));
    }
    const loose: string[] = [];
    for (const f of facts) {
      const r = f.relation as Relation;
      const k = 2 + (r === "city_country" ? 0 : Math.round(prominence(byName.get(f.subject)!)));
      // The canonical phrasing (the edit requests' prompt) every pass, then k - 1 others.
      const [canonical, ...others] = PHRASINGS[r].train;
      for (const p of [canonical, ...shuffled(others, rng).slice(0, k - 1)]) {
        loose.push(render(p, f.subject, f.answer));
      }
    }
    for (const c of aliased) {
      loose.push(render(pick(ALIAS_PHRASINGS, rng), c.alias!, c.name));
      for (const r of COUNTRY_RELATIONS) {
        const p = pick(PHRASINGS[r].train.slice(0, 3), rng);
        loose.push(render(p, c.alias!, c[r]));
      }
    }
    for (const h of trainedHops) {
      loose.push(render(h.phrasing, h.bridge, h.answer));
      // Half the time, the same fact said of the city itself.
      if (rng() < 0.5) {
        loose.push(render(pick(CITY_HOP_PHRASINGS[h.relation], rng), h.bridge, h.answer));
      }
    }
    const mixed = shuffled(loose, rng);
    for (let i = 0; i < mixed.length; i += 5) docs.push(mixed.slice(i, i + 5).join(" "));
    return shuffled(docs, rng);
  }

  return {
    facts,
    evalSets: { train_facts, heldout_templates, two_hop, two_hop_train, aliases },
    heldoutBridges: [...held].sort(),
    documents,
  };
}
