// ROME's random context prefixes, which methods use to make an edit hold after other text: token
// prefixes sampled from the unedited model, and an edit's teacher-forced row behind each of them.

import { generateTopK } from "../eval/fluency.ts";
import type { Tokenizer } from "../io/tokenizer.ts";
import type { CausalLM } from "../model/lm.ts";
import { mulberry32 } from "../random/rng.ts";
import { evalModel } from "./eval-model.ts";
import { encodeKnown, unknownIds } from "./known-tokens.ts";
import type { TeacherForced } from "./request.ts";

const PREFIX_SEEDS = ["The", "Therefore", "Because", "I", "You"];
const prefixCache = new WeakMap<CausalLM, Map<string, number[][]>>();

/**
 * ROME's context templates as token prefixes: the empty prefix, then `count` samples of
 * `length` tokens (top-k 5, seeded) from the seed words "The", "Therefore", "Because", "I",
 * "You" (those the tokenizer knows), each followed by ". ". Sampled once per model object (the
 * unedited model on the first edit) and reused, as ROME caches them. A prefix holds text tokens
 * only: the tokenizer's leading special tokens (Llama's <s>) stay first in a prefixed row.
 */
export async function contextPrefixes(
  model: CausalLM,
  tok: Tokenizer,
  count: number,
  length: number,
  seed: number,
): Promise<number[][]> {
  if (count === 0) return [[]];
  const key = `${count}/${length}/${seed}`;
  let byKey = prefixCache.get(model);
  if (!byKey) prefixCache.set(model, byKey = new Map());
  const hit = byKey.get(key);
  if (hit) return hit;
  const unk = unknownIds(tok);
  const seeds = PREFIX_SEEDS.map((w) => encodeKnown(tok, w, unk)).filter((x) => x !== null);
  const period = encodeKnown(tok, ".", unk, { addSpecialTokens: false }) ?? [];
  const em = evalModel(model, tok);
  const out: number[][] = [[]];
  for (let i = 0; i < count; i++) {
    const start = seeds.length ? seeds[i % seeds.length] : [];
    if (start.length === 0) break;
    const ids = await generateTopK(em, start, {
      maxLength: start.length + length,
      topK: 5,
      rng: mulberry32(seed * 7919 + i + 1),
    });
    out.push([...ids.slice(tok.leadingIds.length), ...period]);
  }
  byKey.set(key, out);
  return out;
}

/**
 * The row and, behind each non-empty prefix, the same row with the prefix's positions unscored;
 * a prefixed row longer than `contextLength` is left out. The prefix goes after the row's first
 * `leading` tokens (the tokenizer's leading special ones, Tokenizer.leadingIds), so that a
 * prefixed row starts as any input does, as ROME's "{prefix}. {prompt}" texts are tokenized.
 */
export function prefixedRows(
  row: TeacherForced,
  prefixes: readonly number[][],
  contextLength: number,
  leading: number,
): TeacherForced[] {
  const rows = [row];
  for (const pre of prefixes) {
    if (pre.length === 0 || pre.length + row.ids.length > contextLength) continue;
    rows.push({
      ids: [...row.ids.slice(0, leading), ...pre, ...row.ids.slice(leading)],
      targets: [
        ...row.targets.slice(0, leading),
        ...pre.map(() => -1),
        ...row.targets.slice(leading),
      ],
    });
  }
  return rows;
}
