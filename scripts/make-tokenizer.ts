// `deno task make-tokenizer`: trains kne-facts-base's byte-level BPE tokenizer on its free-text
// corpus and English word frequencies (src/facts/base-tokenizer.ts) and writes it as
// data/tokenizer-base/tokenizer.json, which `deno task train --preset base` copies into the model.

import { buildTextCorpus } from "../src/facts/text-corpus.ts";
import { trainBaseTokenizer } from "../src/facts/base-tokenizer.ts";
import { toTokenizerJson } from "../src/tokenizer/bpe.ts";

const out = new URL("../data/tokenizer-base/", import.meta.url).pathname;
const model = trainBaseTokenizer(buildTextCorpus());
await Deno.mkdir(out, { recursive: true });
await Deno.writeTextFile(`${out}tokenizer.json`, JSON.stringify(toTokenizerJson(model)) + "\n");
console.error(
  `wrote ${out}tokenizer.json: ${model.vocab.size} tokens, ${model.merges.length} merges`,
);
