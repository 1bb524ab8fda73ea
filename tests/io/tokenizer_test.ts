// tokenizer.json loading through @huggingface/tokenizers: a tiny WordPiece tokenizer built
// here, the fixtures' tokenizers, a GPT-2 folder with only vocab.json and merges.txt (read as
// the tokenizer.json they come from), and the error paths.

import assert from "node:assert/strict";
import fc from "fast-check";
import { addedToken } from "../../src/io/added-token.ts";
import { loadTokenizer, TokenizerError } from "../../src/io/tokenizer.ts";
import { openSafetensors } from "../../src/io/safetensors.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

const special = (id: number, content: string) => addedToken(id, content);

const VOCAB = ["[UNK]", "[CLS]", "[SEP]", "the", "capital", "of", "france", "is", "paris", "."];
const SUBWORDS = ["par", "##is", "ber", "##lin", "##s"];

function tinyTokenizer() {
  const vocab: Record<string, number> = {};
  [...VOCAB, ...SUBWORDS].forEach((w, i) => vocab[w] = i);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "[UNK]"), special(1, "[CLS]"), special(2, "[SEP]")],
    normalizer: { type: "Lowercase" },
    pre_tokenizer: { type: "Whitespace" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [1], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [2], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

async function withDir(files: Record<string, string>, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "kne-tok-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      Deno.writeTextFileSync(`${dir}/${name}`, text);
    }
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("tiny WordPiece tokenizer: encode, decode, special tokens, lookups", async () => {
  await withDir({ "tokenizer.json": JSON.stringify(tinyTokenizer()) }, async (dir) => {
    const tok = await loadTokenizer(dir, 15);
    assert.equal(tok.vocabSize, 15);
    assert.equal(tok.file, `${dir}/tokenizer.json`);
    // A model input starts with the template's leading [CLS]; its trailing [SEP] is not added
    // (a prompt is continued); a piece of text takes no special token.
    assert.deepEqual(tok.leadingIds, [1]);
    assert.deepEqual(tok.encode("The capital of France is Paris."), [1, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(tok.encode("the capital", { addSpecialTokens: false }), [3, 4]);
    // Subwords, and a word that cannot be spelled falls back to [UNK].
    assert.deepEqual(tok.encode("berlins is zzz", { addSpecialTokens: false }), [12, 13, 14, 7, 0]);
    assert.equal(tok.decode([3, 4, 5, 6, 7, 8, 9]), "the capital of france is paris.");
    assert.equal(tok.decode([12, 13, 14]), "berlins");
    assert.equal(tok.decode([1, 3, 2], { skipSpecialTokens: true }), "the");
    assert.equal(tok.decode([]), "");
    assert.equal(tok.tokenToId("paris"), 8);
    assert.equal(tok.tokenToId("##lin"), 13);
    assert.equal(tok.tokenToId("nope"), undefined);
    assert.equal(tok.idToToken(4), "capital");
    assert.equal(tok.idToToken(99), undefined);
    assert.throws(() => tok.decode([3, 15]), TokenizerError);
    assert.throws(() => tok.decode([3, -1]), TokenizerError);
    // A model with more rows than the tokenizer has ids is fine; a padding row's id (which a
    // generation can pick) decodes to nothing, and an id past the model's rows is an error.
    const padded = await loadTokenizer(dir, 1000);
    assert.equal(padded.vocabSize, 15);
    assert.equal(padded.decode([3, 500, 4]), "the capital");
    assert.equal(padded.decode([999]), "");
    assert.throws(() => padded.decode([3, 1000]), TokenizerError);
    assert.equal((await loadTokenizer(dir)).vocabSize, 15);
  });
});

Deno.test("tokenizer with more ids than the model's vocab_size is an error naming the file", async () => {
  await withDir({ "tokenizer.json": JSON.stringify(tinyTokenizer()) }, async (dir) => {
    await assert.rejects(loadTokenizer(dir, 14), (e: Error) => {
      assert.ok(e instanceof TokenizerError, String(e));
      assert.ok(e.message.includes(`${dir}/tokenizer.json`), e.message);
      assert.ok(e.message.includes("15 token ids") && e.message.includes("14"), e.message);
      return true;
    });
  });
  // An added token beyond the vocabulary counts too.
  const t = tinyTokenizer();
  t.added_tokens.push(special(40, "<extra>"));
  await withDir({ "tokenizer.json": JSON.stringify(t) }, async (dir) => {
    await assert.rejects(loadTokenizer(dir, 40), TokenizerError);
    assert.equal((await loadTokenizer(dir, 41)).vocabSize, 41);
  });
});

Deno.test("tokenizer load errors: missing, invalid JSON, malformed model", async () => {
  const expectError = async (files: Record<string, string>, fragment: string) => {
    await withDir(files, async (dir) => {
      await assert.rejects(loadTokenizer(dir), (e: Error) => {
        assert.ok(e instanceof TokenizerError, `not a TokenizerError: ${e}`);
        assert.ok(e.message.includes(dir) && e.message.includes(fragment), e.message);
        return true;
      });
    });
  };
  await expectError({}, "tokenizer.json: cannot read");
  await expectError({ "tokenizer.model": "" }, "tokenizer.model: the model has no pieces");
  await expectError({ "tokenizer.model": "\u00ff" }, "tokenizer.model: not a SentencePiece model");
  await expectError({ "tokenizer.json": "{ bad" }, "not valid JSON");
  await expectError({ "tokenizer.json": "[1]" }, "not an object");
  await expectError({ "tokenizer.json": "{}" }, "[model]");
  await expectError(
    { "tokenizer.json": JSON.stringify({ model: { type: "WordPiece" } }) },
    "vocab",
  );
  const badId = tinyTokenizer();
  badId.model.vocab.the = -2;
  await expectError({ "tokenizer.json": JSON.stringify(badId) }, "model.vocab.the");
  const unknownModel = tinyTokenizer() as unknown as { model: { type: string } };
  unknownModel.model.type = "Nonsense";
  await expectError({ "tokenizer.json": JSON.stringify(unknownModel) }, "[model.type]");
  unknownModel.model.type = "WordLevel";
  await expectError({ "tokenizer.json": JSON.stringify(unknownModel) }, "unsupported tokenizer");
  // A merge of tokens the vocabulary lacks, or whose join it lacks, is refused at load as Hugging
  // Face's BPE does (the library here would encode the text it makes to nothing); "##" joins.
  const bpe = (merges: string[], prefix?: string) =>
    JSON.stringify({
      model: {
        type: "BPE",
        vocab: { a: 0, b: 1, ab: 2, "##b": 3 },
        merges,
        ...(prefix ? { continuing_subword_prefix: prefix } : {}),
      },
    });
  await withDir({ "tokenizer.json": bpe(["a b", "a ##b"], "##") }, async (dir) => {
    assert.deepEqual((await loadTokenizer(dir)).encode("ab"), [2]);
  });
  await expectError({ "tokenizer.json": bpe(["a b", "a c"]) }, '[model.merges[1]]: "a" + "c"');
  await expectError({ "tokenizer.json": bpe(["a b", "b a"]) }, '"ba" is not in the vocabulary');
  // A structure the library rejects is a TokenizerError too.
  const badAdded = tinyTokenizer() as unknown as { normalizer: unknown };
  badAdded.normalizer = { type: "NoSuchNormalizer" };
  await expectError({ "tokenizer.json": JSON.stringify(badAdded) }, "unsupported tokenizer");
  await expectError({
    "tokenizer.json": JSON.stringify(tinyTokenizer()),
    "tokenizer_config.json": "[]",
  }, "tokenizer_config.json");
});

for (const name of ["tiny-gpt2", "tiny-llama"]) {
  Deno.test(`${name} fixture tokenizer encodes the oracle's text to its input_ids`, async () => {
    const dir = `${FIXTURES}${name}`;
    const tok = await loadTokenizer(dir, 96);
    assert.equal(tok.vocabSize, 96);
    const st = await openSafetensors(`${dir}/expected.safetensors`);
    const ids = Array.from(await st.read("input_ids"));
    const text = st.metadata.text;
    st.close();
    // The oracle's ids are the text's own; a model input puts the leading <s> first (Llama).
    assert.deepEqual(tok.encode(text, { addSpecialTokens: false }), ids);
    assert.deepEqual(tok.leadingIds, name === "tiny-llama" ? [tok.tokenToId("<s>")] : []);
    assert.deepEqual(tok.encode(text), [...tok.leadingIds, ...ids]);
    assert.equal(tok.decode(ids), text.replace(" .", "."));
  });
}

/** A folder holding the default model's tokenizer as a GPT-2 slow tokenizer's two files. */
async function slowTokenizerFolder(config: Record<string, unknown>): Promise<string> {
  const json = JSON.parse(
    await Deno.readTextFile(new URL("../../models/kne-facts-base/tokenizer.json", import.meta.url)),
  );
  const dir = await Deno.makeTempDir({ prefix: "kne-slow-tokenizer-" });
  await Deno.writeTextFile(`${dir}/vocab.json`, JSON.stringify(json.model.vocab));
  const lines = json.model.merges.map(([a, b]: string[]) => `${a} ${b}`);
  await Deno.writeTextFile(`${dir}/merges.txt`, ["#version: 0.2", ...lines, ""].join("\n"));
  await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(config));
  return dir;
}

Deno.test("a GPT-2 folder with only vocab.json and merges.txt reads as the tokenizer.json they come from", async () => {
  const shipped = await loadTokenizer(
    new URL("../../models/kne-facts-base", import.meta.url).pathname,
  );
  const dir = await slowTokenizerFolder({
    add_prefix_space: true,
    eos_token: "<|endoftext|>",
    bos_token: { content: "<|endoftext|>", special: true },
  });
  try {
    const slow = await loadTokenizer(dir);
    assert.match(slow.file, /vocab\.json and merges\.txt$/);
    assert.equal(slow.addsPrefixSpace, true);
    assert.equal(slow.vocabSize, shipped.vocabSize);
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), fc.boolean(), (text, eot) => {
        const t = eot ? `${text}<|endoftext|>${text}` : text;
        const ids = slow.encode(t);
        assert.deepEqual(ids, shipped.encode(t));
        assert.equal(slow.decode(ids), shipped.decode(ids));
      }),
      { numRuns: 300 },
    );
    // Without the config's tokens and prefix space, "<|endoftext|>" is text and no space is added.
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, "{}");
    const plain = await loadTokenizer(dir);
    assert.equal(plain.addsPrefixSpace, false);
    assert.ok(plain.encode("<|endoftext|>").length > 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad merges.txt is refused naming its line; with neither file tokenizer.json is missed", async () => {
  const dir = await slowTokenizerFolder({});
  try {
    await Deno.writeTextFile(`${dir}/merges.txt`, "#version: 0.2\nĠ t\nĠt he re\n");
    await assert.rejects(
      loadTokenizer(dir),
      (e: Error) =>
        e instanceof TokenizerError && /merges\.txt.*line 3.*two symbols/.test(e.message),
    );
    await Deno.remove(`${dir}/merges.txt`);
    await assert.rejects(
      loadTokenizer(dir),
      (e: Error) => /tokenizer\.json: cannot read: no such file/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
