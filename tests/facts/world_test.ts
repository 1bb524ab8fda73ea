import assert from "node:assert/strict";
import { buildWorld } from "../../src/facts/world.ts";

const world = buildWorld();
const country = (name: string) => {
  const c = world.countries.find((x) => x.name === name);
  assert.ok(c, `no country ${name}`);
  return c;
};
const city = (name: string) => {
  const c = world.cities.find((x) => x.name === name);
  assert.ok(c, `no city ${name}`);
  return c;
};

Deno.test("world: sizes", () => {
  assert.ok(
    world.countries.length >= 230 && world.countries.length <= 252,
    `${world.countries.length}`,
  );
  assert.equal(world.cities.length, 300);
  assert.deepEqual(world.continents, [
    "Africa",
    "Asia",
    "Europe",
    "North America",
    "Oceania",
    "South America",
  ]);
  assert.ok(world.currencies.length > 100);
  assert.ok(world.languages.length > 50);
  assert.ok(world.countries.filter((c) => c.alias).length >= 60);
  assert.ok(new Set(world.cities.map((c) => c.countryCode)).size >= 100);
});

Deno.test("world: known facts", () => {
  const cases: [string, string, string, string, string][] = [
    ["France", "Paris", "Europe", "Euro", "French"],
    ["Japan", "Tokyo", "Asia", "Japanese Yen", "Japanese"],
    ["Germany", "Berlin", "Europe", "Euro", "German"],
    ["Italy", "Rome", "Europe", "Euro", "Italian"],
    ["Peru", "Lima", "South America", "Peruvian Sol", "Spanish"],
    ["Brazil", "Brasília", "South America", "Brazilian Real", "Portuguese"],
    ["Kenya", "Nairobi", "Africa", "Kenyan Shilling", "English"],
    ["Australia", "Canberra", "Oceania", "Australian Dollar", "English"],
    ["Canada", "Ottawa", "North America", "Canadian Dollar", "English"],
  ];
  for (const [name, capital, continent, currency, language] of cases) {
    const c = country(name);
    assert.deepEqual(
      [c.capital, c.continent, c.currency, c.language],
      [capital, continent, currency, language],
    );
  }
  assert.equal(city("Lyon").country, "France");
  assert.equal(city("Osaka").country, "Japan");
  assert.equal(city("Shanghai").country, "China");
  assert.equal(city("Paris").isCapital, true);
  assert.equal(city("Lyon").isCapital, false);
  assert.equal(country("Germany").alias, "Deutschland");
  assert.equal(country("Myanmar").alias, "Burma");
});

Deno.test("world: consistency", () => {
  const names = new Set(world.countries.map((c) => c.name));
  assert.equal(names.size, world.countries.length);
  const aliases = world.countries.flatMap((c) => (c.alias ? [c.alias] : []));
  assert.equal(new Set(aliases).size, aliases.length);
  for (const a of aliases) assert.ok(!names.has(a), a);
  const cityNames = new Set(world.cities.map((c) => c.name));
  assert.equal(cityNames.size, world.cities.length);
  const perCountry = new Map<string, number>();
  for (const c of world.cities) {
    assert.ok(names.has(c.country), c.country);
    assert.ok(!names.has(c.name) && !aliases.includes(c.name), c.name);
    perCountry.set(c.country, (perCountry.get(c.country) ?? 0) + 1);
    // A city named like a capital is that country's capital.
    const cap = world.countries.find((x) => x.capital === c.name);
    if (cap) assert.equal(cap.name, c.country, c.name);
  }
  for (const n of perCountry.values()) assert.ok(n <= 4);
  for (let i = 1; i < world.cities.length; i++) {
    assert.ok(world.cities[i - 1].population >= world.cities[i].population);
  }
  for (const c of world.countries) {
    for (const v of [c.name, c.capital, c.continent, c.currency, c.language]) {
      assert.ok(v.length > 0 && v === v.trim() && !v.includes("  "), JSON.stringify(v));
    }
  }
});

Deno.test("world: deterministic across option sets", () => {
  const a = buildWorld({ maxCities: 120, perCountry: 3 });
  const b = buildWorld({ maxCities: 300, perCountry: 4 });
  assert.equal(a.cities.length, 120);
  assert.deepEqual(a.countries.map((c) => c.name), b.countries.map((c) => c.name));
  assert.deepEqual(JSON.parse(JSON.stringify(b)), JSON.parse(JSON.stringify(world)));
});
