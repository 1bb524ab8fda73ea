// The tiny fixtures (tests/fixtures/, from tests/oracle/make_fixtures.py) that tests run once per
// model family: one per checkpoint family a model folder may hold, and the ones the forward's
// bit-exact tests (rows read, a layer start, checkpointed layers) run.

/**
 * One fixture per checkpoint family (GPT-2, Llama 3, Qwen3, GPT-NeoX, GPT-J, Gemma 1-3; some
 * stored as F16 or BF16): what a model folder the page's user picks must load as the command
 * line loads it.
 */
export const FAMILY_FIXTURES = [
  "tiny-gpt2",
  "tiny-llama3",
  "tiny-qwen3",
  "tiny-neox",
  "tiny-gptj",
  "tiny-gemma",
  "tiny-gemma2",
  "tiny-gemma3",
] as const;

/**
 * GPT-2, Llama, GPT-J (whose FFN reads the layer's normed input at the rows read), Gemma 2
 * (post-norms and a soft-capped head at the rows read) and Gemma 3: the forward's bit-exact tests.
 */
export const BLOCK_FIXTURES = [
  "tiny-gpt2",
  "tiny-llama",
  "tiny-gptj",
  "tiny-gemma2",
  "tiny-gemma3",
] as const;

/** The folder of the fixture `name`. */
export function fixtureDir(name: string): string {
  return new URL(`../fixtures/${name}`, import.meta.url).pathname;
}
