// The training corpus and the evaluation probe sets of the fact world.
//
// Training sentences (each `prompt + " " + answer + " ."`):
// - every one-hop fact (capital, continent, currency, language of each country; country of each
//   city) in every TRAIN template of its relation;
// - capital -> country ("Paris is the capital of France ."), for capitals that identify one
//   country, so that "the country whose capital is X" can be resolved;
// - aliases: "Burma is another name for Myanmar .", "Myanmar is also called Burma ." and the
//   country's four facts with the alias as subject in the first `aliasTemplates` train templates;
// - two-hop sentences for a share (`twoHopTrainShare`) of the bridge entities: "The capital of the
//   country where Lyon is located is Paris ." (bridge: a city) and "The currency of the country
//   whose capital is Lima is Peruvian Sol ." (bridge: a capital). The other bridges are HELD OUT:
//   none of their two-hop sentences is in training (their one-hop facts are), and they form the
//   `two_hop` probe set.
// HELD-OUT templates (TEMPLATES[r].heldout) never occur in training.
//
// Deterministic given the seed (which only drives the two-hop split and the sentence order).

import { buildWorld, type World } from "./world.ts";
import { mulberry32, shuffled } from "../random/rng.ts";
import {
  AUX_TEMPLATES,
  type AuxRelation,
  fill,
  type Relation,
  RELATIONS,
  sentence,
  TEMPLATES,
  TWO_HOP_RELATIONS,
  TWO_HOP_TEMPLATES,
  type TwoHopKind,
} from "./templates.ts";

export interface Fact {
  relation: Relation | AuxRelation;
  subject: string;
  answer: string;
}

export interface Probe {
  prompt: string;
  answer: string;
  /** A Relation; for two-hop probes "via_city:<relation>" or "via_capital:<relation>". */
  relation: string;
  /** The subject; for two-hop probes the bridge entity (city or capital). */
  subject: string;
  /**
   * The frame the prompt was made from, "{s}" where the subject goes (the text corpus's
   * phrasings also hold "{o}" for the answer), so that recall can be reported per phrasing.
   */
  phrasing: string;
}

export interface EvalSets {
  /** Every one-hop fact of the edited relations in its canonical (train) template. */
  train_facts: Probe[];
  /** Every one-hop fact in each of its relation's held-out templates. */
  heldout_templates: Probe[];
  /** Two-hop probes whose bridge's two-hop sentences are not in training. */
  two_hop: Probe[];
  /** Two-hop probes that are in training (for comparison with two_hop). */
  two_hop_train: Probe[];
  /** One-hop facts with the alias as subject (canonical template; in training). */
  aliases: Probe[];
}

export interface Corpus {
  train: string[];
  evalSets: EvalSets;
  facts: Fact[];
  /** Bridge entities whose two-hop sentences are held out (cities and capitals). */
  heldoutBridges: string[];
}

export interface CorpusOptions {
  seed?: number;
  /** Fraction of bridge entities whose two-hop sentences are trained (default 0.7). */
  twoHopTrainShare?: number;
  /** How many train templates are used for the alias-subject facts (default 2). */
  aliasTemplates?: number;
  world?: World;
}

export const DEFAULT_SEED = 20241228;

/** The one-hop facts of the edited relations, in world order. */
export function mainFacts(world: World): Fact[] {
  const facts: Fact[] = [];
  for (const c of world.countries) {
    facts.push({ relation: "capital", subject: c.name, answer: c.capital });
    facts.push({ relation: "continent", subject: c.name, answer: c.continent });
    facts.push({ relation: "currency", subject: c.name, answer: c.currency });
    facts.push({ relation: "language", subject: c.name, answer: c.language });
  }
  for (const city of world.cities) {
    facts.push({ relation: "city_country", subject: city.name, answer: city.country });
  }
  return facts;
}

interface TwoHop {
  kind: TwoHopKind;
  relation: Relation;
  bridge: string;
  country: string;
  probe: Probe;
}

/** Every possible two-hop probe of the world (before the train / held-out split). */
export function twoHopProbes(world: World): TwoHop[] {
  const byName = new Map(world.countries.map((c) => [c.name, c]));
  const out: TwoHop[] = [];
  for (const city of world.cities) {
    for (const r of TWO_HOP_RELATIONS.via_city) {
      if (r === "capital" && city.isCapital) continue; // "the capital of the country where Paris is"
      out.push({
        kind: "via_city",
        relation: r,
        bridge: city.name,
        country: city.country,
        probe: {
          prompt: fill(TWO_HOP_TEMPLATES.via_city, city.name, TEMPLATES[r].noun!),
          answer: byName.get(city.country)![r],
          relation: `via_city:${r}`,
          subject: city.name,
          phrasing: fill(TWO_HOP_TEMPLATES.via_city, "{s}", TEMPLATES[r].noun!),
        },
      });
    }
  }
  for (const c of world.countries) {
    if (!c.uniqueCapital) continue;
    for (const r of TWO_HOP_RELATIONS.via_capital) {
      out.push({
        kind: "via_capital",
        relation: r,
        bridge: c.capital,
        country: c.name,
        probe: {
          prompt: fill(TWO_HOP_TEMPLATES.via_capital, c.capital, TEMPLATES[r].noun!),
          answer: c[r],
          relation: `via_capital:${r}`,
          subject: c.capital,
          phrasing: fill(TWO_HOP_TEMPLATES.via_capital, "{s}", TEMPLATES[r].noun!),
        },
      });
    }
  }
  return out;
}

/**
 * The held-out bridges: a seeded share of the cities and (separately) of the unique capitals.
 * A capital that is also a city entity is one bridge name for both kinds.
 */
export function splitBridges(world: World, seed: number, trainShare: number): Set<string> {
  const rng = mulberry32(seed ^ 0x2b1d9e);
  const held = new Set<string>();
  const cities = shuffled(world.cities.map((c) => c.name), rng);
  const nCity = Math.round(cities.length * (1 - trainShare));
  for (const name of cities.slice(0, nCity)) held.add(name);
  const capitals = shuffled(
    world.countries.filter((c) => c.uniqueCapital).map((c) => c.capital),
    rng,
  );
  const cityNames = new Set(world.cities.map((c) => c.name));
  const nCap = Math.round(capitals.length * (1 - trainShare));
  let added = 0;
  for (const cap of capitals) {
    if (added >= nCap) break;
    if (cityNames.has(cap)) continue; // already decided by the city split
    held.add(cap);
    added++;
  }
  return held;
}

const cache = new Map<string, Corpus>();

export function buildCorpus(opts: CorpusOptions = {}): Corpus {
  const seed = opts.seed ?? DEFAULT_SEED;
  const share = opts.twoHopTrainShare ?? 0.7;
  const nAlias = opts.aliasTemplates ?? 2;
  const key = opts.world ? null : `${seed}/${share}/${nAlias}`;
  if (key !== null) {
    const hit = cache.get(key);
    if (hit) return hit;
  }
  const world = opts.world ?? buildWorld();

  const facts = mainFacts(world);
  const lines: string[] = [];
  const train_facts: Probe[] = [];
  const heldout_templates: Probe[] = [];
  for (const f of facts) {
    const r = f.relation as Relation;
    const t = TEMPLATES[r];
    for (const tpl of t.train) lines.push(sentence(fill(tpl, f.subject), f.answer));
    train_facts.push({
      prompt: fill(t.train[0], f.subject),
      answer: f.answer,
      relation: r,
      subject: f.subject,
      phrasing: t.train[0],
    });
    for (const tpl of t.heldout) {
      heldout_templates.push({
        prompt: fill(tpl, f.subject),
        answer: f.answer,
        relation: r,
        subject: f.subject,
        phrasing: tpl,
      });
    }
  }

  const aux: Fact[] = [];
  for (const c of world.countries) {
    if (c.uniqueCapital) aux.push({ relation: "capital_of", subject: c.capital, answer: c.name });
  }
  const aliases: Probe[] = [];
  for (const c of world.countries) {
    if (!c.alias) continue;
    aux.push({ relation: "alias_of", subject: c.alias, answer: c.name });
    aux.push({ relation: "also_called", subject: c.name, answer: c.alias });
    const own: [Relation, string][] = [
      ["capital", c.capital],
      ["continent", c.continent],
      ["currency", c.currency],
      ["language", c.language],
    ];
    for (const [r, answer] of own) {
      for (const tpl of TEMPLATES[r].train.slice(0, nAlias)) {
        lines.push(sentence(fill(tpl, c.alias), answer));
      }
      aliases.push({
        prompt: fill(TEMPLATES[r].train[0], c.alias),
        answer,
        relation: r,
        subject: c.alias,
        phrasing: TEMPLATES[r].train[0],
      });
    }
  }
  for (const f of aux) {
    for (const tpl of AUX_TEMPLATES[f.relation as AuxRelation]) {
      lines.push(sentence(fill(tpl, f.subject), f.answer));
    }
  }

  const held = splitBridges(world, seed, share);
  const two_hop: Probe[] = [];
  const two_hop_train: Probe[] = [];
  for (const h of twoHopProbes(world)) {
    if (held.has(h.bridge)) two_hop.push(h.probe);
    else {
      two_hop_train.push(h.probe);
      lines.push(sentence(h.probe.prompt, h.probe.answer));
    }
  }

  const train = shuffled([...new Set(lines)], mulberry32(seed));
  const corpus: Corpus = {
    train,
    evalSets: { train_facts, heldout_templates, two_hop, two_hop_train, aliases },
    facts: [...facts, ...aux],
    heldoutBridges: [...held].sort(),
  };
  if (key !== null) cache.set(key, corpus);
  return corpus;
}

export { RELATIONS };
