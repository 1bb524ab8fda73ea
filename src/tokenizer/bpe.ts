// Byte-level BPE as GPT-2 defines it: text is split by GPT-2's pre-tokenizer regex, each piece's
// UTF-8 bytes are mapped to printable symbols (bytes_to_unicode), and merges learned on a corpus
// join adjacent symbols. This module trains the merges (src/io/byte-level-bpe.ts writes them as a
// Hugging Face tokenizer.json, which `@huggingface/tokenizers` loads); `encodeBpe` is the
// trainer's own reference encoder, used to check the library's.

/** GPT-2's pre-tokenizer pattern (contractions, letters, numbers, other, whitespace). */
export const GPT2_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's map from a byte to a printable symbol (bytes_to_unicode), as an array by byte. */
export function byteSymbols(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const out = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = printable.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  }
  return out;
}

const SYMBOLS = byteSymbols();
const encoder = new TextEncoder();

/** Pre-tokenize `text` and map each piece's bytes to symbols. */
export function byteLevelPieces(text: string): string[] {
  const pieces = text.match(GPT2_PATTERN) ?? [];
  return pieces.map((p) => Array.from(encoder.encode(p), (b) => SYMBOLS[b]).join(""));
}

export interface BpeModel {
  /** Token string -> id; ids 0..n-1, special tokens first, then the 256 byte symbols. */
  vocab: Map<string, number>;
  /** Merges in the order they were learned (rank = index). */
  merges: [string, string][];
  specialTokens: string[];
}

export interface BpeTrainOptions {
  /** Size of the final vocabulary, special tokens and byte symbols included. */
  vocabSize: number;
  specialTokens?: string[];
  /** Pairs seen fewer times than this are never merged. */
  minFrequency?: number;
}

interface Word {
  symbols: string[];
  count: number;
}

const SEP = "\u0000";
const pairKey = (a: string, b: string) => a + SEP + b;

/** Adds the byte-level pieces of `texts` to `counts` (piece -> occurrences) and returns it. */
export function countPieces(
  texts: Iterable<string>,
  counts = new Map<string, number>(),
): Map<string, number> {
  for (const t of texts) {
    for (const p of byteLevelPieces(t)) counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  return counts;
}

/**
 * Learn merges on weighted pieces (byte-level symbols, as `countPieces` makes them): the most
 * frequent adjacent pair (ties broken by the smaller pair string, so the result is
 * deterministic) is merged until the vocabulary reaches `vocabSize` or no pair is frequent
 * enough. Pair counts are updated incrementally: only pieces that contain the merged pair are
 * recounted.
 */
export function trainBpe(pieces: Map<string, number>, opts: BpeTrainOptions): BpeModel {
  const specials = opts.specialTokens ?? [];
  const minFreq = opts.minFrequency ?? 2;
  const base = specials.length + 256;
  if (opts.vocabSize < base) {
    throw new RangeError(`vocabSize ${opts.vocabSize} is below ${base} (specials + 256 bytes)`);
  }
  const words: Word[] = [...pieces].map(([w, count]) => ({ symbols: [...w], count }));

  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1) => {
    const { symbols, count } = words[wi];
    for (let i = 0; i + 1 < symbols.length; i++) {
      const k = pairKey(symbols[i], symbols[i + 1]);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * count);
      if (sign > 0) {
        let s = pairWords.get(k);
        if (!s) pairWords.set(k, s = new Set());
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);

  const vocab = new Map<string, number>();
  for (const s of specials) vocab.set(s, vocab.size);
  for (const s of SYMBOLS) vocab.set(s, vocab.size);
  const merges: [string, string][] = [];
  while (vocab.size < opts.vocabSize) {
    let best: string | null = null;
    let bestCount = minFreq - 1;
    for (const [k, c] of pairCount) {
      if (c > bestCount || (c === bestCount && best !== null && k < best)) {
        best = k;
        bestCount = c;
      }
    }
    if (best === null) break;
    const [a, b] = best.split(SEP);
    const merged = a + b;
    merges.push([a, b]);
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    for (const wi of pairWords.get(best) ?? []) {
      const w = words[wi];
      addPairs(wi, -1);
      w.symbols = mergeSymbols(w.symbols, a, b);
      addPairs(wi, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
    for (const [k, c] of pairCount) if (c <= 0) pairCount.delete(k);
  }
  return { vocab, merges, specialTokens: specials };
}

function mergeSymbols(symbols: string[], a: string, b: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
      out.push(a + b);
      i++;
    } else out.push(symbols[i]);
  }
  return out;
}

/**
 * Encode with the model's merges exactly as BPE defines it: within each piece, repeatedly merge
 * the adjacent pair of lowest rank. The reference the library's encoder is tested against.
 */
export function encodeBpe(model: BpeModel, text: string): number[] {
  const rank = new Map(model.merges.map(([a, b], i) => [pairKey(a, b), i]));
  const ids: number[] = [];
  for (const piece of byteLevelPieces(text)) {
    let symbols = [...piece];
    for (;;) {
      let bestRank = Infinity, bestI = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = rank.get(pairKey(symbols[i], symbols[i + 1]));
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          bestI = i;
        }
      }
      if (bestI < 0) break;
      const [a, b] = model.merges[bestRank];
      symbols = mergeSymbols(symbols, a, b);
    }
    for (const s of symbols) ids.push(model.vocab.get(s)!);
  }
  return ids;
}
