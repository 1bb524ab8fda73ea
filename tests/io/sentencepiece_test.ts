// SentencePiece's tokenizer.model read as tokenizer.json, against SentencePiece itself
// (tests/oracle/make_sentencepiece.py trained the model with Llama's settings and encoded the
// test strings): every string encodes to SentencePiece's ids and they decode to its text; any
// string round-trips (byte fallback: nothing is unknown); a control piece written in a text is
// the special token, as Hugging Face reads it; a Llama folder with only tokenizer.model loads with
// its <s> first, and add_bos_token false drops it; a Unigram model, collapsed whitespace, and bytes
// that are not a model are refused naming the file; the wire-format reader fails only with a
// ProtobufError on any bytes.

import assert from "node:assert/strict";
import fc from "fast-check";
import { ProtobufError, protoFields } from "../../src/io/protobuf.ts";
import { sentencePieceJson } from "../../src/io/sentencepiece.ts";
import { loadTokenizer, TokenizerError, tokenizerFromJson } from "../../src/io/tokenizer.ts";

const DIR = new URL("../fixtures/sentencepiece/", import.meta.url).pathname;
const MODEL = await Deno.readFile(`${DIR}llama/tokenizer.model`);
/** [text, SentencePiece's ids, its decode of them]. */
const EXPECTED: [string, number[], string][] = JSON.parse(
  await Deno.readTextFile(`${DIR}expected.json`),
);
/** Llama's tokenizer_config.json says this; SentencePiece's decode keeps the spaces too. */
const CONFIG = { clean_up_tokenization_spaces: false };
const tok = tokenizerFromJson("llama", sentencePieceJson("llama", MODEL, {}), CONFIG);
const CONTROL = /<s>|<\/s>|<unk>/;

Deno.test("tokenizer.model encodes and decodes every test string as SentencePiece does", () => {
  let compared = 0;
  for (const [text, ids, decoded] of EXPECTED) {
    if (CONTROL.test(text)) continue; // Hugging Face matches special tokens (next test)
    assert.deepEqual(tok.encode(text, { addSpecialTokens: false }), ids, JSON.stringify(text));
    assert.equal(tok.decode(ids), decoded, JSON.stringify(text));
    compared++;
  }
  assert.ok(compared > 200, `${compared} strings compared`);
  assert.deepEqual(tok.leadingIds, [1], "<s> first, as LlamaTokenizerFast adds it");
});

Deno.test("clean_up_tokenization_spaces decides the space before punctuation, cleaned by default", () => {
  const ids = tok.encode("Paris , France", { addSpecialTokens: false });
  assert.equal(tok.decode(ids), "Paris , France");
  const cleaned = tokenizerFromJson("llama", sentencePieceJson("llama", MODEL, {}), {});
  assert.equal(cleaned.decode(ids), "Paris, France");
});

Deno.test("a control piece written in a text is its special token, as Hugging Face reads it", () => {
  const ids = tok.encode("<s> and </s>", { addSpecialTokens: false });
  assert.equal(ids[0], 1);
  assert.equal(ids[ids.length - 1], 2);
});

Deno.test("any string round-trips through the converted tokenizer (byte fallback)", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 60 }), (text) => {
      fc.pre(!CONTROL.test(text));
      const ids = tok.encode(text, { addSpecialTokens: false });
      assert.ok(!ids.includes(0), "nothing is unknown");
      assert.equal(tok.decode(ids), text);
    }),
    { numRuns: 150 },
  );
});

Deno.test("a Llama folder with only tokenizer.model loads, add_bos_token deciding the <s>", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kne-spm-" });
  try {
    await Deno.copyFile(`${DIR}llama/tokenizer.model`, `${dir}/tokenizer.model`);
    const loaded = await loadTokenizer(dir);
    assert.deepEqual(loaded.leadingIds, [1]);
    assert.deepEqual(
      loaded.encode("The capital of France is"),
      [1, ...tok.encode("The capital of France is", { addSpecialTokens: false })],
    );
    await Deno.writeTextFile(
      `${dir}/tokenizer_config.json`,
      JSON.stringify({ add_bos_token: false, bos_token: "<s>" }),
    );
    assert.deepEqual((await loadTokenizer(dir)).leadingIds, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Unigram model, collapsed whitespace and bytes that are no model are refused", async () => {
  const refusal = (bytes: Uint8Array) => {
    try {
      sentencePieceJson("m.model", bytes, {});
      return "read";
    } catch (e) {
      assert.ok(e instanceof TokenizerError, String(e));
      return (e as Error).message;
    }
  };
  assert.match(
    refusal(await Deno.readFile(`${DIR}unigram/tokenizer.model`)),
    /^m\.model: a SentencePiece Unigram model, which is not read/,
  );
  assert.match(
    refusal(await Deno.readFile(`${DIR}collapse/tokenizer.model`)),
    /^m\.model: the model collapses runs of spaces/,
  );
  assert.match(refusal(new TextEncoder().encode("{}")), /^m\.model: not a SentencePiece model/);
  assert.equal(refusal(new Uint8Array()), "m.model: the model has no pieces");
});

Deno.test("the wire-format reader reads a model's fields and fails only with ProtobufError", () => {
  const fields = protoFields(MODEL);
  assert.equal(fields.filter((f) => f.field === 1).length, 600, "600 pieces");
  // pad_id -1 is ten bytes of varint (trainer spec field 43).
  const trainer = protoFields(fields.find((f) => f.field === 2)!.bytes!);
  assert.equal(trainer.find((f) => f.field === 43)!.int, -1n);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        protoFields(bytes);
      } catch (e) {
        assert.ok(e instanceof ProtobufError, String(e));
      }
    }),
    { numRuns: 1000 },
  );
});
