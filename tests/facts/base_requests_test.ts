// Candidate edit requests of kne-facts-base: well-formed KnowEdit records whose probes say what
// they should (two-hop kinds split by held-out bridges, the target's own fact in locality), and
// the filter that keeps only what the unedited model knows.

import assert from "node:assert/strict";
import { buildWorld } from "../../src/facts/world.ts";
import { buildTextCorpus } from "../../src/facts/text-corpus.ts";
import { baseRequestCandidates, keepKnown, knownPairs } from "../../src/facts/base-requests.ts";
import { parseRequests } from "../../src/io/requests.ts";
import { RELATIONS } from "../../src/facts/templates.ts";

const world = buildWorld();
const corpus = buildTextCorpus();
// A stand-in token count: words of the answer (the real script counts BPE tokens).
const candidates = baseRequestCandidates(world, corpus, {
  answerTokens: (a) => a.split(" ").length,
});
const held = new Set(corpus.heldoutBridges);

Deno.test("base requests: every candidate is a valid KnowEdit record", () => {
  for (const r of RELATIONS) {
    const list = candidates[r];
    assert.ok(list.length > 150, `${r}: ${list.length}`);
    // The edit command's own reader accepts them (rephrases as a list, probe kinds by name).
    const parsed = parseRequests(JSON.stringify(list), `${r}.json`);
    assert.equal(parsed.length, list.length);
    assert.deepEqual(parsed[0].rephrasePrompts, list[0].rephrase_prompt);
    for (const q of list) {
      assert.equal(q.relation, r);
      assert.ok(q.prompt.includes(q.subject));
      assert.notEqual(q.target_new, q.ground_truth);
      assert.equal(q.rephrase_prompt.length, 3);
      for (const p of q.rephrase_prompt) assert.ok(p.includes(q.subject) && p !== q.prompt);
    }
  }
});

Deno.test("base requests: two-hop kinds follow the held-out bridges; targets prefer 2+ tokens", () => {
  for (const q of candidates.capital.concat(candidates.currency, candidates.city_country)) {
    for (const p of q.portability.Two_Hop_Heldout ?? []) assert.ok(p.heldout);
    for (const p of q.portability.Two_Hop_Seen ?? []) assert.ok(!p.heldout);
    for (const p of Object.values(q.portability).flat()) {
      assert.notEqual(p.ground_truth, p.old_answer, p.prompt);
    }
  }
  for (const q of candidates.city_country) {
    const kinds = Object.keys(q.portability);
    assert.deepEqual(kinds, [held.has(q.subject) ? "Two_Hop_Heldout" : "Two_Hop_Seen"]);
  }
  const multi = candidates.capital.filter((q) => q.target_new.includes(" ")).length;
  const possible = world.countries.some((c) => c.capital.includes(" "));
  assert.ok(!possible || multi === candidates.capital.length, `${multi}`);
});

Deno.test("base requests: Target_Fact asks the new target's own fact", () => {
  const q = candidates.capital[0];
  for (const p of q.locality.Target_Fact) {
    assert.equal(p.ground_truth, q.target_new);
    const owner = world.countries.find((c) => p.prompt === `The capital of ${c.name} is`);
    assert.equal(owner?.capital, q.target_new);
  }
});

Deno.test("base requests: a forced target (the demo's) changes that request only", () => {
  const forced = baseRequestCandidates(world, corpus, {
    answerTokens: (a) => a.split(" ").length,
    target: (r, s) => r === "capital" && s === "France" ? "Rome" : undefined,
  });
  const france = forced.capital.find((q) => q.subject === "France")!;
  assert.equal(france.prompt, "The capital of France is");
  assert.equal(france.target_new, "Rome");
  // The target's own fact is asked of a country whose capital is Rome, and two-hops answer Rome.
  const italy = world.countries.find((c) => c.name === "Italy")!;
  assert.equal(italy.capital, "Rome");
  assert.ok(france.locality.Target_Fact.length > 0);
  for (const p of france.locality.Target_Fact) assert.equal(p.ground_truth, "Rome");
  for (const p of Object.values(france.portability).flat()) {
    if (!p.prompt.startsWith("The capital")) continue;
    assert.equal(p.ground_truth, "Rome");
  }
  // The other relations' candidates, and this one's up to France, are those drawn without it.
  for (const r of RELATIONS) {
    const upTo = r === "capital" ? forced[r].indexOf(france) : forced[r].length;
    assert.deepEqual(forced[r].slice(0, upTo), candidates[r].slice(0, upTo));
  }
});

Deno.test("keepKnown keeps only what the model knows, and drops unknown edits", () => {
  const q = candidates.currency.find((x) => x.portability.Subject_Aliasing)!;
  const pairs = knownPairs(q);
  const everything = keepKnown(q, () => true)!;
  const nonEmpty = (g: Record<string, unknown[]>) =>
    Object.fromEntries(Object.entries(g).filter(([, v]) => v.length > 0));
  assert.deepEqual(everything.portability, nonEmpty(q.portability));
  assert.deepEqual(everything.locality, nonEmpty(q.locality));
  assert.deepEqual(everything.rephrase_prompt, q.rephrase_prompt);
  assert.equal(keepKnown(q, (p) => p !== q.prompt), null);
  const alias = q.portability.Subject_Aliasing![0].prompt;
  const firstRephrase = q.rephrase_prompt[0];
  const some = keepKnown(q, (p) => p !== alias && p !== firstRephrase)!;
  assert.equal(some.portability.Subject_Aliasing, undefined);
  assert.deepEqual(some.rephrase_prompt, q.rephrase_prompt.slice(1));
  // Portability is checked with the answer before the edit, never the new one.
  assert.ok(pairs.every((p) => p.ground_truth !== q.target_new || p.prompt !== q.prompt));
  assert.ok(!pairs.some((p) => p.prompt === alias && p.ground_truth === q.target_new));
});

Deno.test("keepKnown keeps an anchor request by its prompt and rephrases alone", () => {
  const q = candidates.capital[0];
  const portability = Object.values(q.portability).flat().map((x) => x.prompt);
  assert.ok(portability.length > 0);
  // The model knows the edited fact and its rephrases but no portability probe.
  const knows = (p: string) => !portability.includes(p);
  assert.equal(keepKnown(q, knows), null);
  const anchor = keepKnown(q, knows, { anchor: true })!;
  assert.deepEqual(anchor.portability, {});
  assert.deepEqual(anchor.rephrase_prompt, q.rephrase_prompt);
  // An anchor still needs its prompt known.
  assert.equal(keepKnown(q, (p) => knows(p) && p !== q.prompt, { anchor: true }), null);
});
