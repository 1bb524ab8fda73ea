// `deno task make-base-requests [--model DIR] [--prefix P]`: writes kne-facts-base's edit requests,
// data/requests/base-test.json (500), base-dev.json (200) and base-anchors.json (400, the anchor
// pool of locality terms, so that neither tuning on dev nor scoring on test reads the other
// split's prompts as anchors), and base-demo.json (the one edit `deno task edit` runs when given
// no request: France's capital -> Rome, its probes kept as for the others), from the candidates of
// src/facts/base-requests.ts, keeping only what the unedited model knows: the edited fact, two or
// more rephrases, and each locality and portability probe's answer before the edit (teacher
// forced, every answer token the argmax). Relations are interleaved, so any leading slice is
// balanced; dev and anchor requests edit other (relation, subject) pairs than test requests.
// Deterministic for a model. With --prefix base-llama and the Llama twin as --model, it writes the
// twin's own files (base-llama-test.json, ...), kept by what the twin knows.
// The four files are written as one set (writeTextFilesTogether): nothing is written until every
// request is made, then each file goes to a temporary beside it and, once all four are on the
// disk, each is renamed over the old one. A failure or a Ctrl-C before that leaves the old four
// (a Ctrl-C while they are written lets the writing finish, a moment); only a kill or a crash
// during the four renames can leave some files old and some new.

import { createBackend } from "../engine/select.ts";
import { exitWithError } from "../src/cli/fail.ts";
import { listenForInterrupt } from "../src/cli/interrupt.ts";
import { writeTextFilesTogether } from "../src/io/files.ts";
import { parseFlags } from "../src/cli/flags.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import { buildWorld } from "../src/facts/world.ts";
import { buildTextCorpus } from "../src/facts/text-corpus.ts";
import {
  type BaseRequest,
  baseRequestCandidates,
  keepKnown,
  knownPairs,
} from "../src/facts/base-requests.ts";
import { RELATIONS } from "../src/facts/templates.ts";
import { loadModel } from "../src/pipeline/load.ts";
import { scoreProbes } from "../src/train/recall.ts";

const USAGE = `Usage: deno task make-base-requests [--model DIR] [--prefix P] [--test N] [--dev N]
  [--anchors N]

  --model DIR  the model whose knowledge keeps a probe (default models/kne-facts-base)
  --prefix P   the files' prefix in data/requests/ (default base; letters, digits and -)
  --test N, --dev N, --anchors N   requests per file (default 500, 200, 400)`;

function fail(msg: string): never {
  exitWithError(msg, 2, USAGE);
}

const values = parseFlags({
  model: { type: "string", default: "models/kne-facts-base" },
  test: { type: "string", default: "500" },
  dev: { type: "string", default: "200" },
  anchors: { type: "string", default: "400" },
  prefix: { type: "string", default: "base" },
}, USAGE);
const count = (name: "test" | "dev" | "anchors") => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 1) {
    fail(`--${name} must be an integer >= 1, got "${values[name]}"`);
  }
  return v;
};
const nTest = count("test"), nDev = count("dev"), nAnchors = count("anchors");
if (values.model!.trim() === "") fail("--model must not be empty");
if (!/^[a-z0-9][a-z0-9-]*$/.test(values.prefix)) {
  fail(`--prefix must be letters, digits and -, got "${values.prefix}"`);
}

await runCommand(async () => {
  const backend = await createBackend("wasm");
  const { model, tokenizer } = await loadModel(values.model!, backend, { tokenizer: true });
  const tok = tokenizer!;
  const world = buildWorld();
  const corpus = buildTextCorpus();
  const answerTokens = (a: string) => tok.encode(` ${a}`, { addSpecialTokens: false }).length;
  const candidates = baseRequestCandidates(world, corpus, { answerTokens });

  // Score every distinct (prompt, answer) pair once.
  const pairs = new Map<string, { prompt: string; answer: string }>();
  const key = (p: string, a: string) => `${p}\u0000${a}`;
  for (const list of Object.values(candidates)) {
    for (const r of list) {
      for (const p of knownPairs(r)) {
        pairs.set(key(p.prompt, p.ground_truth), {
          prompt: p.prompt,
          answer: p.ground_truth,
        });
      }
    }
  }
  const all = [...pairs.values()];
  console.error(
    `scoring ${all.length} probes of ${Object.values(candidates).flat().length} candidates`,
  );
  const scores = await scoreProbes(model, tok, all);
  const known = new Set(all.filter((_, i) => scores[i].whole).map((p) => key(p.prompt, p.answer)));
  const knows = (p: string, a: string) => known.has(key(p, a));

  const pairKey = (q: BaseRequest) => `${q.relation}\u0000${q.subject}`;
  const keepAll = (anchor: boolean, skip: Set<string>) => {
    const kept: Record<string, BaseRequest[]> = {};
    for (const r of RELATIONS) {
      kept[r] = candidates[r].filter((q) => !skip.has(pairKey(q)))
        .map((q) => keepKnown(q, knows, { anchor }))
        .filter((q): q is BaseRequest => q !== null && q.rephrase_prompt.length >= 2);
    }
    return kept;
  };
  const kept = keepAll(false, new Set());
  for (const r of RELATIONS) {
    console.error(`${r}: ${kept[r].length} of ${candidates[r].length} candidates kept`);
  }
  /**
   * Interleaves the relations of `lists` from row `from`; returns the requests and the next free
   * row.
   */
  const take = (
    lists: Record<string, BaseRequest[]>,
    n: number,
    from: number,
    firstId: number,
  ): [BaseRequest[], number] => {
    const out: BaseRequest[] = [];
    let i = from;
    for (; out.length < n; i++) {
      if (RELATIONS.every((r) => !lists[r][i])) {
        throw new Error(`only ${out.length} requests can be made, ${n} asked`);
      }
      for (const r of RELATIONS) {
        const q = lists[r][i];
        if (q && out.length < n) out.push({ ...q, case_id: firstId + out.length });
      }
    }
    return [out, i];
  };
  const [test, next] = take(kept, nTest, 0, 0);
  const [dev] = take(kept, nDev, next, 100000);
  // Anchors from the (relation, subject) pairs test and dev left, kept by their prompt, answer and
  // rephrases alone (the only parts the locality terms read): every relation then has anchors,
  // capital included, whose known requests test and dev take all of. 400 leave each relation
  // several subjects for each of its answers (continents: 9-19 each), the neighbours that an
  // edit's KL term most needs (src/edit/anchors.ts).
  const spare = keepAll(true, new Set([...test, ...dev].map(pairKey)));
  const [anchors] = take(spare, nAnchors, 0, 200000);
  // The demo: the same candidate with its target forced, its new probes scored too.
  const DEMO = { relation: "capital", subject: "France", target: "Rome" } as const;
  const demoCandidate = baseRequestCandidates(world, corpus, {
    answerTokens,
    target: (r, s) => r === DEMO.relation && s === DEMO.subject ? DEMO.target : undefined,
  })[DEMO.relation].find((q) => q.subject === DEMO.subject)!;
  const demoPairs = knownPairs(demoCandidate);
  const demoScores = await scoreProbes(
    model,
    tok,
    demoPairs.map((p) => ({ prompt: p.prompt, answer: p.ground_truth })),
  );
  const demoKnown = new Set(
    demoPairs.filter((_, i) => demoScores[i].whole).map((p) => key(p.prompt, p.ground_truth)),
  );
  const demo = keepKnown(demoCandidate, (p, a) => demoKnown.has(key(p, a)));
  if (!demo) throw new Error(`the model does not know the demo's fact (${demoCandidate.prompt})`);
  // Written only once every file's requests are made, as one set: they were written one after
  // another, so a failure or a Ctrl-C between two left new files beside old ones.
  const files = `${new URL("..", import.meta.url).pathname}data/requests/${values.prefix}`;
  const json = (x: unknown) => JSON.stringify(x, null, 2) + "\n";
  const interrupt = listenForInterrupt("writing the four files first (a moment)");
  try {
    await writeTextFilesTogether([
      [`${files}-test.json`, json(test)],
      [`${files}-dev.json`, json(dev)],
      [`${files}-anchors.json`, json(anchors)],
      [`${files}-demo.json`, json([{ ...demo, case_id: 300000 }])],
    ]);
  } finally {
    interrupt.release();
  }
  const multi = [...test, ...dev].filter((q) => answerTokens(q.target_new) >= 2).length;
  console.error(
    `wrote ${test.length} test, ${dev.length} dev and ${anchors.length} anchor requests; ` +
      `${multi} of ${test.length + dev.length} targets take two or more tokens`,
  );
  await backend.dispose();
});
