// The five greedy continuations a base model's card shows: known facts, in words the corpus uses
// and in others, and generic openings that only fluent text continues well.

import type { Tokenizer } from "../io/tokenizer.ts";
import { generate } from "../model/generate.ts";
import type { CausalLM } from "../model/lm.ts";

export const SAMPLE_PROMPTS = [
  "The capital of France is",
  "Japan is a country in",
  "In Brazil, people speak",
  "My grandmother told me that the old city of",
  "The best way to learn about a country is",
] as const;

/** [prompt, continuation] pairs: up to 24 new tokens within the context, ending at `eot`. */
export async function greedySamples(
  model: CausalLM,
  tok: Tokenizer,
  eot: number | null,
): Promise<[string, string][]> {
  const samples: [string, string][] = [];
  for (const p of SAMPLE_PROMPTS) {
    const ids = tok.encode(p);
    const maxNewTokens = Math.min(24, model.config.contextLength - ids.length);
    const r = await generate(model, ids, { maxNewTokens, eosId: eot ?? undefined });
    samples.push([p, tok.decode(r.tokens.filter((t) => t !== eot))]);
  }
  return samples;
}
