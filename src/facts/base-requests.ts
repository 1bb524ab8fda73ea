// Counterfactual edit requests for kne-facts-base, in the KnowEdit JSON format (shared/KNE.md),
// over the free-text corpus's phrasings (src/facts/phrasings.ts):
// - prompt: the relation's canonical train phrasing; target_new: a wrong answer of the same type,
//   of two or more tokens where the relation has such values;
// - rephrase_prompt: every held-out phrasing of the relation (never in training);
// - portability, reported by kind:
//     Two_Hop_Heldout  "The <noun> of the country where <city> is located is" -> the new value,
//                      through bridges whose two-hop sentences were never trained;
//     Two_Hop_Seen     the same through bridges whose two-hop sentences were trained with the
//                      old answer (reported apart: they test overwriting a seen sentence);
//     Subject_Aliasing the prompt with the country's other name as subject;
//   (for a city moved to another country: the new country's capital, continent, currency and
//   language through the city);
// - locality, by kind:
//     Relation_Specificity  the subject's other relations (for a city: its old and new
//                           countries' capitals);
//     Neighborhood          other subjects with the same relation, one sharing the old answer
//                           where one exists;
//     Target_Fact           the new target's own fact ("The capital of Portugal is" -> Lisbon
//                           after Japan's capital -> Lisbon), which an edit must not disturb.
// Candidates are built here without a model; scripts/make-base-requests.ts keeps a request only
// when the unedited model knows its fact, keeps only the probes the model answers correctly, and
// takes the first balanced test and dev requests (disjoint subjects).

import { mulberry32, pick, type Rng, shuffled } from "../random/rng.ts";
import type { EditRequest, PortabilityProbe, RequestProbe } from "./requests.ts";
import { PHRASINGS, promptOf, twoHopPhrasing } from "./phrasings.ts";
import { type Relation, RELATIONS } from "./templates.ts";
import type { TextCorpus } from "./text-corpus.ts";
import { type Country, COUNTRY_RELATIONS, type CountryRelation, type World } from "./world.ts";

/** A portability probe with the answer it had before the edit (kept only if the model knew it). */
export interface BasePortabilityProbe extends PortabilityProbe {
  old_answer: string;
}

export interface BaseRequest
  extends Omit<EditRequest, "rephrase_prompt" | "portability" | "locality"> {
  rephrase_prompt: string[];
  portability: Record<string, BasePortabilityProbe[]>;
  locality: Record<string, RequestProbe[]>;
}

const canonical = (r: Relation, subject: string) => promptOf(PHRASINGS[r].train[0], subject)!;
const hop = (kind: "via_city" | "via_capital", r: CountryRelation, bridge: string) =>
  promptOf(twoHopPhrasing(kind, r), bridge)!;

export interface BaseRequestOptions {
  seed?: number;
  /** Tokens of an answer as it follows a prompt (" " + answer); targets prefer >= 2. */
  answerTokens: (answer: string) => number;
  /**
   * The new target of a (relation, subject) pair where one is wanted (the demo edit, France's
   * capital -> Rome); else a drawn one. A forced target still draws one, so the candidates
   * before it and the other relations' stay as drawn without it.
   */
  target?: (relation: Relation, subject: string) => string | undefined;
}

/** Every candidate request, per relation, in a seeded order. */
export function baseRequestCandidates(
  world: World,
  corpus: TextCorpus,
  opts: BaseRequestOptions,
): Record<Relation, BaseRequest[]> {
  const seed = opts.seed ?? 20261204;
  const held = new Set(corpus.heldoutBridges);
  const byName = new Map(world.countries.map((c) => [c.name, c]));
  const citiesOf = new Map<string, string[]>();
  for (const city of world.cities) {
    citiesOf.set(city.country, [...(citiesOf.get(city.country) ?? []), city.name]);
  }
  const cityByName = new Map(world.cities.map((c) => [c.name, c]));
  const values: Record<CountryRelation, string[]> = {
    capital: [...new Set(world.countries.map((c) => c.capital))],
    continent: world.continents,
    currency: world.currencies,
    language: world.languages,
  };

  const pickTarget = (pool: string[], rng: Rng) => {
    const multi = pool.filter((v) => opts.answerTokens(v) >= 2);
    return pick(multi.length > 0 ? multi : pool, rng);
  };

  const twoHops = (country: Country, r: CountryRelation, answer: string) => {
    const heldout: BasePortabilityProbe[] = [], seen: BasePortabilityProbe[] = [];
    for (const name of citiesOf.get(country.name) ?? []) {
      if (r === "capital" && cityByName.get(name)!.isCapital) continue;
      const list = held.has(name) ? heldout : seen;
      list.push({
        prompt: hop("via_city", r, name),
        ground_truth: answer,
        old_answer: country[r],
        heldout: held.has(name),
      });
    }
    if (r !== "capital" && country.uniqueCapital) {
      const list = held.has(country.capital) ? heldout : seen;
      list.push({
        prompt: hop("via_capital", r, country.capital),
        ground_truth: answer,
        old_answer: country[r],
        heldout: held.has(country.capital),
      });
    }
    return { heldout, seen };
  };

  const countryRequest = (r: CountryRelation, c: Country, rng: Rng): BaseRequest => {
    const gt = c[r];
    const drawn = pickTarget(values[r].filter((v) => v !== gt), rng);
    const target = opts.target?.(r, c.name) ?? drawn;
    const { heldout, seen } = twoHops(c, r, target);
    const others = shuffled(
      world.countries.filter((o) => o.name !== c.name && o[r] !== target),
      rng,
    );
    const same = others.find((o) => o[r] === gt);
    const neighbours = [...new Set([...(same ? [same] : []), ...others])].slice(0, 3);
    const owners = shuffled(world.countries.filter((o) => o[r] === target), rng).slice(0, 2);
    const portability: Record<string, BasePortabilityProbe[]> = {
      Two_Hop_Heldout: heldout,
      Two_Hop_Seen: seen,
    };
    if (c.alias) {
      portability.Subject_Aliasing = [{
        prompt: canonical(r, c.alias),
        ground_truth: target,
        old_answer: gt,
      }];
    }
    return {
      case_id: 0,
      relation: r,
      subject: c.name,
      prompt: canonical(r, c.name),
      target_new: target,
      ground_truth: gt,
      rephrase_prompt: PHRASINGS[r].heldout.map((p) => promptOf(p, c.name)!),
      portability,
      locality: {
        Relation_Specificity: COUNTRY_RELATIONS.filter((o) => o !== r).map((o) => ({
          prompt: canonical(o, c.name),
          ground_truth: c[o],
        })),
        Neighborhood: neighbours.map((o) => ({ prompt: canonical(r, o.name), ground_truth: o[r] })),
        Target_Fact: owners.map((o) => ({ prompt: canonical(r, o.name), ground_truth: target })),
      },
    };
  };

  const cityRequest = (name: string, rng: Rng): BaseRequest => {
    const city = cityByName.get(name)!;
    const from = byName.get(city.country)!;
    const drawn = pickTarget(
      world.countries.filter((o) => o.name !== from.name).map((o) => o.name),
      rng,
    );
    const to = opts.target?.("city_country", name) ?? drawn;
    const toC = byName.get(to)!;
    const hops = COUNTRY_RELATIONS.filter((r) => toC[r] !== from[r]).map((r) => ({
      prompt: hop("via_city", r, name),
      ground_truth: toC[r],
      old_answer: from[r],
      heldout: held.has(name),
    }));
    const others = shuffled(
      world.cities.filter((o) => o.name !== name && o.country !== to),
      rng,
    );
    const same = others.find((o) => o.country === from.name);
    const neighbours = [...new Set([...(same ? [same] : []), ...others])].slice(0, 3);
    const owners = world.cities.filter((o) => o.country === to).slice(0, 2);
    return {
      case_id: 0,
      relation: "city_country",
      subject: name,
      prompt: canonical("city_country", name),
      target_new: to,
      ground_truth: from.name,
      rephrase_prompt: PHRASINGS.city_country.heldout.map((p) => promptOf(p, name)!),
      portability: held.has(name) ? { Two_Hop_Heldout: hops } : { Two_Hop_Seen: hops },
      locality: {
        Relation_Specificity: [from, toC].map((c) => ({
          prompt: canonical("capital", c.name),
          ground_truth: c.capital,
        })),
        Neighborhood: neighbours.map((o) => ({
          prompt: canonical("city_country", o.name),
          ground_truth: o.country,
        })),
        Target_Fact: owners.map((o) => ({
          prompt: canonical("city_country", o.name),
          ground_truth: to,
        })),
      },
    };
  };

  const out = {} as Record<Relation, BaseRequest[]>;
  for (const r of RELATIONS) {
    const rng = mulberry32((seed ^ (0x9e3779b1 * (RELATIONS.indexOf(r) + 1))) >>> 0);
    out[r] = r === "city_country"
      ? shuffled(world.cities.filter((c) => !c.isCapital).map((c) => c.name), rng).map((n) =>
        cityRequest(n, rng)
      )
      : shuffled(world.countries, rng).map((c) => countryRequest(r, c, rng));
  }
  return out;
}

/** Every prompt -> answer pair of a request whose answer before the edit is checked. */
export function knownPairs(r: BaseRequest): RequestProbe[] {
  return [
    { prompt: r.prompt, ground_truth: r.ground_truth },
    ...r.rephrase_prompt.map((p) => ({ prompt: p, ground_truth: r.ground_truth })),
    ...Object.values(r.locality).flat(),
    ...Object.values(r.portability).flat().map((p) => ({
      prompt: p.prompt,
      ground_truth: p.old_answer,
    })),
  ];
}

/**
 * Keeps what the unedited model knows (`knows(prompt, answer)`): a request whose edit prompt it
 * answers correctly, with only the rephrases and locality probes it answers correctly, and the
 * portability probes whose old answer it gets right through the same route; a request left with
 * no rephrase or no portability probe is dropped. `anchor`: a request of the anchor pool, of
 * which only the prompt, its answer and the rephrases are read (src/edit/anchors.ts), so it needs
 * no portability probe (the capital relation has no spare request that keeps one after test and
 * dev).
 */
export function keepKnown(
  r: BaseRequest,
  knows: (prompt: string, answer: string) => boolean,
  { anchor = false } = {},
): BaseRequest | null {
  if (!knows(r.prompt, r.ground_truth)) return null;
  const rephrase_prompt = r.rephrase_prompt.filter((p) => knows(p, r.ground_truth));
  if (rephrase_prompt.length === 0) return null;
  const locality: Record<string, RequestProbe[]> = {};
  for (const [k, probes] of Object.entries(r.locality)) {
    const kept = probes.filter((p) => knows(p.prompt, p.ground_truth));
    if (kept.length > 0) locality[k] = kept;
  }
  const portability: Record<string, BasePortabilityProbe[]> = {};
  for (const [k, probes] of Object.entries(r.portability)) {
    const kept = probes.filter((p) => knows(p.prompt, p.old_answer));
    if (kept.length > 0) portability[k] = kept;
  }
  if (!anchor && Object.keys(portability).length === 0) return null;
  return { ...r, rephrase_prompt, portability, locality };
}
