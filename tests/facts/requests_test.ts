import assert from "node:assert/strict";
import { buildCorpus } from "../../src/facts/corpus.ts";
import { buildRequests, type EditRequest, validateRequests } from "../../src/facts/requests.ts";
import { fill, RELATIONS, sentence, TEMPLATES } from "../../src/facts/templates.ts";
import { buildWorld } from "../../src/facts/world.ts";

const root = new URL("../../", import.meta.url).pathname;
const read = (name: string): EditRequest[] =>
  JSON.parse(Deno.readTextFileSync(`${root}data/requests/${name}.json`));
const test = read("test");
const dev = read("dev");
const anchors = read("anchors");
const corpus = buildCorpus();
const train = new Set(corpus.train);
const world = buildWorld();

Deno.test("requests: files are valid KnowEdit-style arrays", () => {
  assert.deepEqual(validateRequests(test), []);
  assert.deepEqual(validateRequests(dev), []);
  assert.ok(test.length >= 300);
  assert.ok(dev.length >= 40 && dev.length <= 60);
  for (const q of [...test, ...dev]) {
    assert.notEqual(q.target_new, q.ground_truth);
    for (
      const k of ["subject", "prompt", "target_new", "ground_truth", "rephrase_prompt"] as const
    ) {
      assert.equal(typeof q[k], "string");
    }
  }
  assert.deepEqual(validateRequests([{ subject: "x" }]).length > 0, true);
});

Deno.test("requests: committed files equal the generator output (deterministic)", () => {
  const built = buildRequests();
  assert.deepEqual(test, JSON.parse(JSON.stringify(built.test)));
  assert.deepEqual(dev, JSON.parse(JSON.stringify(built.dev)));
  assert.deepEqual(anchors, JSON.parse(JSON.stringify(built.anchors)));
  const other = buildRequests({ seed: 99, world });
  assert.notDeepEqual(other.test.map((q) => q.subject), built.test.map((q) => q.subject));
});

Deno.test("requests: balanced, disjoint, and grounded in the world", () => {
  const first = test.slice(0, 100);
  for (const r of RELATIONS) assert.equal(first.filter((q) => q.relation === r).length, 20, r);
  const key = (q: EditRequest) => `${q.relation}|${q.subject}`;
  const testKeys = new Set(test.map(key));
  assert.equal(testKeys.size, test.length);
  for (const q of dev) assert.ok(!testKeys.has(key(q)), key(q));
  // The anchor pool edits none of the (relation, subject) pairs that test or dev edits.
  const devKeys = new Set(dev.map(key));
  assert.equal(anchors.length, 50);
  assert.deepEqual(validateRequests(anchors), []);
  for (const q of anchors) assert.ok(!testKeys.has(key(q)) && !devKeys.has(key(q)), key(q));
  assert.equal(new Set(anchors.map(key)).size, anchors.length);
  const ids = [...test, ...dev, ...anchors].map((q) => q.case_id);
  assert.equal(new Set(ids).size, ids.length);

  const typeOf = new Map<string, Set<string>>([
    ["capital", new Set(world.countries.map((c) => c.capital))],
    ["continent", new Set(world.continents)],
    ["currency", new Set(world.currencies)],
    ["language", new Set(world.languages)],
    ["city_country", new Set(world.countries.map((c) => c.name))],
  ]);
  for (const q of [...test, ...dev, ...anchors]) {
    const t = TEMPLATES[q.relation];
    // The prompt is the canonical trained fact; the rephrase is a held-out template.
    assert.equal(q.prompt, fill(t.train[0], q.subject));
    assert.ok(train.has(sentence(q.prompt, q.ground_truth)), q.prompt);
    assert.ok(t.heldout.some((h) => fill(h, q.subject) === q.rephrase_prompt), q.rephrase_prompt);
    // target_new has the type of the ground truth.
    assert.ok(typeOf.get(q.relation)!.has(q.target_new), q.target_new);
    assert.ok(typeOf.get(q.relation)!.has(q.ground_truth), q.ground_truth);
    // Portability: country edits carry the new value; every probe ends at a trained-or-held
    // two-hop prompt of the edited subject's country.
    assert.ok(q.portability.Reasoning.length > 0);
    for (const p of q.portability.Reasoning) {
      assert.equal(typeof p.heldout, "boolean");
      if (q.relation !== "city_country") assert.equal(p.ground_truth, q.target_new);
      const s = sentence(p.prompt, p.ground_truth);
      assert.ok(!train.has(s), `portability probe with the new answer is in training: ${s}`);
    }
    for (const p of q.portability.Subject_Aliasing ?? []) {
      assert.equal(p.ground_truth, q.target_new);
      // The alias form of the fact (with the old answer) is in training.
      assert.ok(train.has(sentence(p.prompt, q.ground_truth)), p.prompt);
    }
    // Locality probes are trained facts, none answered with the new target.
    for (const p of [...q.locality.Relation_Specificity, ...q.locality.Neighborhood]) {
      assert.ok(train.has(sentence(p.prompt, p.ground_truth)), p.prompt);
    }
    for (const p of q.locality.Neighborhood) assert.notEqual(p.ground_truth, q.target_new);
    assert.ok(q.locality.Neighborhood.length >= 2);
  }
  assert.ok(test.filter((q) => q.portability.Subject_Aliasing).length >= 50);
  // The example of the brief: France's capital, probed through Lyon.
  const lyon = corpus.evalSets.two_hop.concat(corpus.evalSets.two_hop_train).find((p) =>
    p.subject === "Lyon" && p.relation === "via_city:capital"
  );
  assert.equal(lyon?.answer, "Paris");
});
