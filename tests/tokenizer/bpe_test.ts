// The byte-level BPE trainer: its tokenizer.json loads in @huggingface/tokenizers, any UTF-8 text
// round-trips through the library exactly, the library encodes as the trainer's own reference
// encoder does, and the trainer's merges are the most frequent pairs, deterministically. With a
// prefix space, a text is encoded as the same text after a space, and inputText gives it back.

import assert from "node:assert/strict";
import fc from "fast-check";
import { byteSymbols, countPieces, encodeBpe, trainBpe } from "../../src/tokenizer/bpe.ts";
import { byteLevelBpeJson } from "../../src/io/byte-level-bpe.ts";
import { inputText, loadTokenizer, type Tokenizer } from "../../src/io/tokenizer.ts";

const TEXTS = [
  "The capital of France is Paris.",
  "Ouagadougou is the capital of Burkina Faso, a country in Africa.",
  "In Japan, people pay with the Japanese Yen; the calling code is +81.",
  "Reykjavík, Zürich and São Paulo are cities; Москва is Moscow's native name.",
  "It's the 3rd time they've said it'll rain  \n\n  in   spaced\ttext.",
];
const corpus = Array.from({ length: 40 }, (_, i) => TEXTS[i % TEXTS.length] + ` ${i}`);

async function libraryTokenizer(
  vocabSize: number,
  prefixSpace = false,
): Promise<[Tokenizer, ReturnType<typeof trainBpe>]> {
  const model = trainBpe(countPieces(corpus), { vocabSize, specialTokens: ["<|endoftext|>"] });
  const dir = await Deno.makeTempDir();
  const json = byteLevelBpeJson(model, { prefixSpace });
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
  return [await loadTokenizer(dir), model];
}

Deno.test("bpe: byte symbols are 256 distinct printable characters, GPT-2's mapping", () => {
  const s = byteSymbols();
  assert.equal(new Set(s).size, 256);
  assert.equal(s[0x41], "A");
  assert.equal(s[0x20], "Ġ"); // space -> U+0120, as in GPT-2's vocabulary
  assert.equal(s[0x0a], "Ċ");
});

Deno.test("bpe: training is deterministic and stops at the vocabulary size", () => {
  const a = trainBpe(countPieces(corpus), { vocabSize: 400, specialTokens: ["<|endoftext|>"] });
  const b = trainBpe(countPieces(corpus), { vocabSize: 400, specialTokens: ["<|endoftext|>"] });
  assert.deepEqual(a.merges, b.merges);
  assert.equal(a.vocab.size, 400);
  assert.equal(a.vocab.get("<|endoftext|>"), 0);
  assert.deepEqual([...a.vocab.values()], [...a.vocab.keys()].map((_, i) => i));
});

Deno.test("bpe: the first merge is the most frequent adjacent pair", () => {
  const m = trainBpe(countPieces(["aaab aaab aaab xy"]), { vocabSize: 257 });
  // Pieces: "aaab", "Ġaaab" x2, "Ġxy": pair (a,a) occurs 2 per piece = 6, more than any other.
  assert.deepEqual(m.merges[0], ["a", "a"]);
});

Deno.test("bpe: the library encodes corpus text exactly as the reference encoder", async () => {
  const [tok, model] = await libraryTokenizer(600);
  for (const t of [...TEXTS, "Unseen words: Kyrgyzstan, Tegucigalpa, 12345!"]) {
    assert.deepEqual(tok.encode(t), encodeBpe(model, t), t);
  }
});

Deno.test("bpe: any UTF-8 string round-trips through the library, nothing is unknown", async () => {
  const [tok, model] = await libraryTokenizer(500);
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
      const ids = tok.encode(s);
      assert.ok(ids.every((id) => id >= 0 && id < tok.vocabSize));
      assert.equal(tok.decode(ids), s);
      assert.deepEqual(ids, encodeBpe(model, s));
    }),
    { numRuns: 300 },
  );
});

Deno.test("bpe: with a prefix space, a text encodes as after a space and inputText restores it", async () => {
  const [plain] = await libraryTokenizer(500);
  const [tok, model] = await libraryTokenizer(500, true);
  assert.equal(plain.addsPrefixSpace, false);
  assert.equal(tok.addsPrefixSpace, true);
  // A name at the start of a text is cut as in running text only with the prefix space.
  assert.notDeepEqual(plain.encode("France is"), plain.encode(" France is"));
  assert.deepEqual(tok.encode("France is"), plain.encode(" France is"));
  assert.deepEqual(tok.encode(""), []);
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
      const ids = tok.encode(s);
      const spaced = s === "" || s.startsWith(" ") ? s : ` ${s}`;
      assert.deepEqual(ids, encodeBpe(model, spaced));
      assert.equal(tok.decode(ids), spaced);
      assert.equal(inputText(tok, ids), s.startsWith(" ") ? s.slice(1) : s);
      assert.equal(inputText(plain, plain.encode(s)), s);
    }),
    { numRuns: 300 },
  );
});
