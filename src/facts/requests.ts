// Counterfactual edit requests over the fact world, in the KnowEdit JSON format
// (see shared/KNE.md): subject, prompt, target_new, ground_truth, rephrase_prompt,
// portability {Reasoning, Subject_Aliasing?}, locality {Relation_Specificity, Neighborhood}.
// Two extra fields, case_id and relation, say which request it is.
//
// - prompt: the relation's canonical TRAIN template (TEMPLATES[r].train[0]).
// - target_new: a wrong answer of the same type, drawn with the seed: another country's capital,
//   another continent / currency / language of the world, another country for a city.
// - rephrase_prompt: one of the relation's HELD-OUT templates (never in training).
// - portability.Reasoning: two-hop probes through the edited fact, answered with the NEW value:
//     capital of C -> X:  "The capital of the country where <city of C> is located is" -> X
//     continent/currency/language of C -> X: the same through a city of C, and
//                         "The <noun> of the country whose capital is <capital of C> is" -> X
//     city L: C -> Y:     "The <noun> of the country where L is located is" -> the value of Y,
//                         for each relation whose value differs between C and Y.
//   Each probe carries `heldout`: true when its bridge's two-hop sentences are not in training
//   (a pure composition test), false when the probe sentence itself was trained with the old
//   answer. Per request at most one trained and one held-out probe per two-hop kind.
// - portability.Subject_Aliasing: the prompt with the country's alias as subject (the alias and
//   its facts are in training), answered with the new value. Only for countries with an alias.
// - locality.Relation_Specificity: same subject, the other relations (unchanged ground truth).
//   A city has one relation, so for city edits these are the capitals of the old and the new
//   country (facts an edit must not drag along).
// - locality.Neighborhood: other subjects, same relation (one sharing the edited subject's
//   ground truth where one exists, the rest random), never with target_new as answer.
// Subjects: capital edits only for countries with a non-capital city in the world; city edits
// only for cities that are not capitals (moving a capital would contradict the capital fact);
// continent/currency/language edits for countries with a unique capital or a city.
// The first `nTest` requests (test.json) interleave the relations (capital, continent, currency,
// language, city_country, capital, ...), so any prefix (e.g. the first 100 measured ones) is
// balanced. dev.json holds other (relation, subject) pairs.

import {
  buildWorld,
  type Country,
  COUNTRY_RELATIONS,
  type CountryRelation,
  type World,
} from "./world.ts";
import { buildCorpus, type Corpus, DEFAULT_SEED } from "./corpus.ts";
import { mulberry32, pick, type Rng, shuffled } from "../random/rng.ts";
import { fill, type Relation, RELATIONS, TEMPLATES, TWO_HOP_TEMPLATES } from "./templates.ts";

export interface RequestProbe {
  prompt: string;
  ground_truth: string;
}

export interface PortabilityProbe extends RequestProbe {
  /** True when this two-hop probe's bridge has no two-hop sentence in training. */
  heldout?: boolean;
}

export interface EditRequest {
  case_id: number;
  relation: Relation;
  subject: string;
  prompt: string;
  target_new: string;
  ground_truth: string;
  rephrase_prompt: string;
  portability: { Reasoning: PortabilityProbe[]; Subject_Aliasing?: PortabilityProbe[] };
  locality: { Relation_Specificity: RequestProbe[]; Neighborhood: RequestProbe[] };
}

export interface RequestOptions {
  seed?: number;
  /** Requests in test.json (default 320). */
  nTest?: number;
  /** Requests in dev.json (default 50). */
  nDev?: number;
  /**
   * Requests in anchors.json (default 50): the anchor pool of locality terms, subjects after the
   * dev split's in the same order, so that tuning on dev reads none of its own prompts as anchors.
   */
  nAnchors?: number;
  corpus?: Corpus;
  world?: World;
}

export function buildRequests(
  opts: RequestOptions = {},
): { test: EditRequest[]; dev: EditRequest[]; anchors: EditRequest[] } {
  const seed = opts.seed ?? DEFAULT_SEED;
  const nTest = opts.nTest ?? 320;
  const nDev = opts.nDev ?? 50;
  const nAnchors = opts.nAnchors ?? 50;
  const world = opts.world ?? buildWorld();
  const corpus = opts.corpus ?? buildCorpus({ seed, world: opts.world });
  const held = new Set(corpus.heldoutBridges);
  const rng = mulberry32(seed ^ 0x5eed);

  const countryByName = new Map(world.countries.map((c) => [c.name, c]));
  const citiesOf = new Map<string, string[]>();
  for (const city of world.cities) {
    const list = citiesOf.get(city.country) ?? [];
    list.push(city.name);
    citiesOf.set(city.country, list);
  }
  const cityByName = new Map(world.cities.map((c) => [c.name, c]));
  const nonCapitalCities = (country: string) =>
    (citiesOf.get(country) ?? []).filter((n) => !cityByName.get(n)!.isCapital);

  // Candidate subjects per relation (those with at least one Reasoning probe).
  const candidates: Record<Relation, string[]> = {
    capital: world.countries.filter((c) => nonCapitalCities(c.name).length > 0).map((c) => c.name),
    continent: [],
    currency: [],
    language: [],
    city_country: world.cities.filter((c) => !c.isCapital).map((c) => c.name),
  };
  for (const r of ["continent", "currency", "language"] as const) {
    candidates[r] = world.countries
      .filter((c) => c.uniqueCapital || (citiesOf.get(c.name) ?? []).length > 0)
      .map((c) => c.name);
  }
  const perRelTest = Math.ceil(nTest / RELATIONS.length);
  const perRelDev = Math.ceil(nDev / RELATIONS.length);
  const order: Record<Relation, string[]> = {} as Record<Relation, string[]>;
  for (const r of RELATIONS) {
    order[r] = shuffled(candidates[r], rng);
    if (order[r].length < perRelTest + perRelDev) {
      throw new Error(`only ${order[r].length} candidate subjects for ${r}`);
    }
  }

  // Two-hop probe for one bridge (trained or held-out) -- picks the first of each kind.
  const pickBridges = (names: string[]): { name: string; heldout: boolean }[] => {
    const out: { name: string; heldout: boolean }[] = [];
    const trained = names.find((n) => !held.has(n));
    const heldout = names.find((n) => held.has(n));
    if (trained !== undefined) out.push({ name: trained, heldout: false });
    if (heldout !== undefined) out.push({ name: heldout, heldout: true });
    return out;
  };

  const makeCountryRequest = (
    r: CountryRelation,
    c: Country,
    caseRng: Rng,
  ): Omit<EditRequest, "case_id"> => {
    const gt = c[r];
    const pool = r === "capital"
      ? world.countries.filter((o) => o.name !== c.name && o.capital !== gt).map((o) => o.capital)
      : (r === "continent"
        ? world.continents
        : r === "currency"
        ? world.currencies
        : world.languages)
        .filter((v) => v !== gt);
    const target = pick([...new Set(pool)], caseRng);
    const noun = TEMPLATES[r].noun!;
    const reasoning: PortabilityProbe[] = [];
    // Non-capital cities first: through the capital itself the via_capital probe already exists.
    const cities = r === "capital" ? nonCapitalCities(c.name) : [
      ...nonCapitalCities(c.name),
      ...(citiesOf.get(c.name) ?? []).filter((n) => cityByName.get(n)!.isCapital),
    ];
    for (const b of pickBridges(cities)) {
      reasoning.push({
        prompt: fill(TWO_HOP_TEMPLATES.via_city, b.name, noun),
        ground_truth: target,
        heldout: b.heldout,
      });
    }
    if (r !== "capital" && c.uniqueCapital) {
      reasoning.push({
        prompt: fill(TWO_HOP_TEMPLATES.via_capital, c.capital, noun),
        ground_truth: target,
        heldout: held.has(c.capital),
      });
    }
    const neighborhood: { prompt: string; ground_truth: string }[] = [];
    const others = shuffled(
      world.countries.filter((o) => o.name !== c.name && o[r] !== target),
      caseRng,
    );
    const same = others.find((o) => o[r] === gt);
    const chosen = same ? [same] : [];
    for (const o of others) {
      if (chosen.length >= 3) break;
      if (!chosen.includes(o)) chosen.push(o);
    }
    for (const o of chosen) {
      neighborhood.push({
        prompt: fill(TEMPLATES[r].train[0], o.name),
        ground_truth: o[r],
      });
    }
    const req: Omit<EditRequest, "case_id"> = {
      relation: r,
      subject: c.name,
      prompt: fill(TEMPLATES[r].train[0], c.name),
      target_new: target,
      ground_truth: gt,
      rephrase_prompt: fill(pick(TEMPLATES[r].heldout, caseRng), c.name),
      portability: { Reasoning: reasoning },
      locality: {
        Relation_Specificity: COUNTRY_RELATIONS.filter((o) => o !== r).map((o) => ({
          prompt: fill(TEMPLATES[o].train[0], c.name),
          ground_truth: c[o],
        })),
        Neighborhood: neighborhood,
      },
    };
    if (c.alias) {
      req.portability.Subject_Aliasing = [{
        prompt: fill(TEMPLATES[r].train[0], c.alias),
        ground_truth: target,
      }];
    }
    return req;
  };

  const makeCityRequest = (name: string, caseRng: Rng): Omit<EditRequest, "case_id"> => {
    const city = cityByName.get(name)!;
    const from = countryByName.get(city.country)!;
    const to = pick(world.countries.filter((o) => o.name !== from.name), caseRng);
    const reasoning: PortabilityProbe[] = [];
    for (const r of COUNTRY_RELATIONS) {
      if (to[r] === from[r]) continue;
      reasoning.push({
        prompt: fill(TWO_HOP_TEMPLATES.via_city, name, TEMPLATES[r].noun!),
        ground_truth: to[r],
        heldout: held.has(name),
      });
    }
    const others = shuffled(
      world.cities.filter((o) => o.name !== name && o.country !== to.name),
      caseRng,
    );
    const same = others.find((o) => o.country === from.name);
    const chosen = same ? [same] : [];
    for (const o of others) {
      if (chosen.length >= 3) break;
      if (!chosen.includes(o)) chosen.push(o);
    }
    const tpl = TEMPLATES.city_country;
    return {
      relation: "city_country",
      subject: name,
      prompt: fill(tpl.train[0], name),
      target_new: to.name,
      ground_truth: from.name,
      rephrase_prompt: fill(pick(tpl.heldout, caseRng), name),
      portability: { Reasoning: reasoning },
      locality: {
        Relation_Specificity: [from, to].map((c) => ({
          prompt: fill(TEMPLATES.capital.train[0], c.name),
          ground_truth: c.capital,
        })),
        Neighborhood: chosen.map((o) => ({
          prompt: fill(tpl.train[0], o.name),
          ground_truth: o.country,
        })),
      },
    };
  };

  const make = (r: Relation, subject: string, caseId: number): EditRequest => {
    // Each request draws from its own stream so that one request's choices do not shift others.
    const caseRng = mulberry32((seed * 31 + caseId * 7919 + RELATIONS.indexOf(r)) >>> 0);
    const body = r === "city_country"
      ? makeCityRequest(subject, caseRng)
      : makeCountryRequest(r, countryByName.get(subject)!, caseRng);
    return { case_id: caseId, ...body };
  };

  const test: EditRequest[] = [];
  for (let i = 0; i < perRelTest && test.length < nTest; i++) {
    for (const r of RELATIONS) {
      if (test.length >= nTest) break;
      test.push(make(r, order[r][i], test.length));
    }
  }
  const dev: EditRequest[] = [];
  for (let i = 0; i < perRelDev && dev.length < nDev; i++) {
    for (const r of RELATIONS) {
      if (dev.length >= nDev) break;
      dev.push(make(r, order[r][perRelTest + i], 100000 + dev.length));
    }
  }
  // The anchors take the subjects left after dev's, relations interleaved while they last.
  const anchors: EditRequest[] = [];
  for (let i = perRelTest + perRelDev; anchors.length < nAnchors; i++) {
    const left = RELATIONS.filter((r) => i < order[r].length);
    if (left.length === 0) throw new Error(`only ${anchors.length} anchor requests can be made`);
    for (const r of left) {
      if (anchors.length < nAnchors) anchors.push(make(r, order[r][i], 200000 + anchors.length));
    }
  }
  return { test, dev, anchors };
}

/** Every text of a request list (for tokenizer coverage checks). */
export function requestTexts(reqs: EditRequest[]): string[] {
  const out: string[] = [];
  for (const q of reqs) {
    out.push(q.subject, q.prompt, q.target_new, q.ground_truth, q.rephrase_prompt);
    for (const group of [q.portability, q.locality]) {
      for (const probes of Object.values(group)) {
        for (const p of probes as RequestProbe[]) out.push(p.prompt, p.ground_truth);
      }
    }
  }
  return out;
}

/** Check the shape of a parsed request file; returns a list of problems (empty when valid). */
export function validateRequests(data: unknown): string[] {
  const errs: string[] = [];
  if (!Array.isArray(data)) return ["not an array"];
  const isStr = (x: unknown) => typeof x === "string" && x.length > 0;
  const probesOk = (x: unknown) =>
    Array.isArray(x) &&
    x.every((p) =>
      typeof p === "object" && p !== null && isStr((p as RequestProbe).prompt) &&
      isStr((p as RequestProbe).ground_truth)
    );
  data.forEach((q: Record<string, unknown>, i) => {
    for (const k of ["subject", "prompt", "target_new", "ground_truth", "rephrase_prompt"]) {
      if (!isStr(q[k])) errs.push(`${i}: ${k} missing or not a string`);
    }
    if (typeof q.case_id !== "number") errs.push(`${i}: case_id`);
    if (!(RELATIONS as readonly string[]).includes(q.relation as string)) {
      errs.push(`${i}: relation`);
    }
    if (q.target_new === q.ground_truth) errs.push(`${i}: target_new equals ground_truth`);
    if (
      typeof q.prompt === "string" && typeof q.subject === "string" && !q.prompt.includes(q.subject)
    ) {
      errs.push(`${i}: prompt does not contain the subject`);
    }
    const port = q.portability as Record<string, unknown> | undefined;
    const loc = q.locality as Record<string, unknown> | undefined;
    if (!port || !probesOk(port.Reasoning) || (port.Reasoning as unknown[]).length === 0) {
      errs.push(`${i}: portability.Reasoning`);
    }
    if (port && port.Subject_Aliasing !== undefined && !probesOk(port.Subject_Aliasing)) {
      errs.push(`${i}: portability.Subject_Aliasing`);
    }
    if (!loc || !probesOk(loc.Relation_Specificity) || !probesOk(loc.Neighborhood)) {
      errs.push(`${i}: locality`);
    }
  });
  return errs;
}
