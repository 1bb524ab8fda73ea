// Writes the fact world's committed data files (deterministic; `deno task make-requests`):
//   data/requests/test.json, data/requests/dev.json   KnowEdit-style counterfactual edit requests
//   data/requests/anchors.json                         the anchor pool of locality terms (subjects
//                                                      after dev's; not in the tokenizer's texts)
//   data/tokenizer/tokenizer.json (+ tokenizer_config.json)   the word-level tokenizer
//   data/corpus-stats.json                             corpus statistics
// The generator logic lives in src/facts/ (corpus.ts, requests.ts, tokenizer.ts).

import { exitWithError } from "../src/cli/fail.ts";
import { parseFlags, wholeNumber } from "../src/cli/flags.ts";
import { buildCorpus, DEFAULT_SEED } from "../src/facts/corpus.ts";
import { buildRequests, requestTexts, validateRequests } from "../src/facts/requests.ts";
import { corpusStats } from "../src/facts/stats.ts";
import { encode, loadTokenizer, writeTokenizer } from "../src/facts/tokenizer.ts";

const USAGE = `Usage: deno task make-requests

Regenerates the fact world's committed data files from its generator (src/facts/), overwriting:
  data/requests/test.json, data/requests/dev.json   the KnowEdit-style counterfactual edit requests
  data/requests/anchors.json                         the anchor pool of locality terms
  data/tokenizer/tokenizer.json, data/tokenizer/tokenizer_config.json   the word-level tokenizer
  data/corpus-stats.json                             corpus statistics (also printed)
The output is deterministic; KNE_FACTS_SEED=N picks another seed (default ${DEFAULT_SEED}).
It takes no flags but -h, --help (print this usage).`;

// No flags: anything on the command line but --help is refused before a file is written.
parseFlags({}, USAGE);

const root = new URL("..", import.meta.url).pathname;
const seedText = Deno.env.get("KNE_FACTS_SEED") ?? String(DEFAULT_SEED);
const seed = wholeNumber(seedText);
if (seed === null) exitWithError(`KNE_FACTS_SEED must be an integer, got "${seedText}"`, 2);
const corpus = buildCorpus({ seed });
const { test, dev, anchors } = buildRequests({ seed, corpus });
for (const [name, reqs] of [["test", test], ["dev", dev], ["anchors", anchors]] as const) {
  const errs = validateRequests(reqs);
  if (errs.length) throw new Error(`${name}: ${errs.slice(0, 5).join("; ")}`);
}

Deno.mkdirSync(`${root}data/requests`, { recursive: true });
for (const [name, reqs] of [["test", test], ["dev", dev], ["anchors", anchors]] as const) {
  Deno.writeTextFileSync(`${root}data/requests/${name}.json`, JSON.stringify(reqs, null, 2) + "\n");
}

const tokPath = `${root}data/tokenizer/tokenizer.json`;
writeTokenizer(tokPath, corpus, [...requestTexts(test), ...requestTexts(dev)]);
const tok = loadTokenizer(tokPath);
// The anchor split came after the tokenizer was fixed: its texts must encode without [UNK] too.
for (const t of requestTexts([...test, ...dev, ...anchors])) {
  if (encode(tok, t).includes(1)) throw new Error(`[UNK] in request text: ${t}`);
}

const stats = corpusStats(corpus, tok);
const out = { seed, requests: { test: test.length, dev: dev.length }, ...stats };
Deno.writeTextFileSync(`${root}data/corpus-stats.json`, JSON.stringify(out, null, 2) + "\n");
console.log(JSON.stringify(out, null, 2));
