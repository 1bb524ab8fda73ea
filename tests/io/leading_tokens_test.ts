// A model input starts as Hugging Face starts it: the tokenizer's leading special tokens (Llama's
// <s>) come first, as @huggingface/tokenizers' own encoding with special tokens puts them, and
// every path that builds an input from a prompt keeps exactly one of them, at position 0: the
// edit's rows, ROME's context prefixes, the subject's position, and the greedy completion's text.

import assert from "node:assert/strict";
import fc from "fast-check";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { contextPrefixes, prefixedRows } from "../../src/edit/context-prefixes.ts";
import { evalModel, greedy } from "../../src/edit/eval-model.ts";
import { editTarget } from "../../src/edit/targets.ts";
import { fluency } from "../../src/eval/fluency.ts";
import { validateRequests } from "../../src/io/requests.ts";
import { TokenizerError, tokenizerFromJson } from "../../src/io/tokenizer.ts";
import { subjectLastToken } from "../../src/methods/subject.ts";
import { disposeModel } from "../../src/model/build.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { testBackends } from "../helpers/backends.ts";

const LLAMA = new URL("../fixtures/tiny-llama", import.meta.url).pathname;
const llamaJson = () => JSON.parse(Deno.readTextFileSync(`${LLAMA}/tokenizer.json`));
const WORDS = ["The", "capital", "of", "France", "is", "Paris", ".", "city", "Rome", "people"];
const texts = fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 8 })
  .map((w) => w.join(" "));

Deno.test("leading tokens: encode puts them first as the library does, pieces take none", () => {
  const json = llamaJson();
  // Llama-2's template, and Llama-3's: a Sequence of ByteLevel-like steps and the template.
  const sequence = {
    ...json,
    post_processor: { type: "Sequence", processors: [json.post_processor] },
  };
  for (const j of [json, sequence]) {
    const ours = tokenizerFromJson("t.json", j, {});
    const lib = new HfTokenizer(j, {});
    assert.deepEqual(ours.leadingIds, [1]);
    fc.assert(fc.property(texts, (text) => {
      assert.deepEqual(ours.encode(text), lib.encode(text, { add_special_tokens: true }).ids);
      assert.deepEqual(
        ours.encode(text, { addSpecialTokens: false }),
        lib.encode(text, { add_special_tokens: false }).ids,
      );
    }));
  }
});

Deno.test("leading tokens: tokenizer_config.json's add_bos_token decides when it is set", () => {
  const json = llamaJson();
  assert.deepEqual(tokenizerFromJson("t.json", json, { add_bos_token: false }).leadingIds, []);
  const noTemplate = { ...json, post_processor: null };
  assert.deepEqual(tokenizerFromJson("t.json", noTemplate, {}).leadingIds, []);
  for (const bos of ["<s>", { content: "<s>", special: true }]) {
    const tok = tokenizerFromJson("t.json", noTemplate, { add_bos_token: true, bos_token: bos });
    assert.deepEqual(tok.leadingIds, [1]);
    assert.deepEqual(tok.encode("The capital"), [1, 8, 10]);
  }
});

Deno.test("leading tokens: a template they cannot be read from is a TokenizerError", () => {
  const json = llamaJson();
  const bad = (post_processor: unknown, config: Record<string, unknown> = {}, what = "") =>
    assert.throws(() => tokenizerFromJson("t.json", { ...json, post_processor }, config), (e) => {
      assert.ok(e instanceof TokenizerError, String(e));
      assert.ok((e as Error).message.includes(what), (e as Error).message);
      return true;
    });
  const single = json.post_processor.single;
  const specials = json.post_processor.special_tokens;
  bad(
    { type: "TemplateProcessing", single: [single[0]], special_tokens: specials },
    {},
    "no Sequence",
  );
  bad({ type: "TemplateProcessing", single, special_tokens: {} }, {}, "no ids");
  bad({ type: "TemplateProcessing", single: "A" }, {}, "needs a list");
  bad(null, { add_bos_token: true }, "bos_token");
  bad(null, { add_bos_token: true, bos_token: "<nope>" }, "no id");
  const far = { "<s>": { id: "<s>", ids: [500], tokens: ["<s>"] } };
  bad({ ...json.post_processor, special_tokens: far }, {}, "outside");
});

testBackends(
  "leading tokens: an edit's inputs hold one <s>, first; the text shows none",
  async (be) => {
    const m = await loadModel(LLAMA, be, { tokenizer: true });
    try {
      const tok = m.tokenizer!;
      const [req] = validateRequests(
        [{ subject: "France", prompt: "The capital of France is", target_new: "Rome" }],
        "test",
      );
      const t = editTarget({ ...req, index: 0 }, tok, m.model.config.contextLength, "test");
      const bos = tok.leadingIds[0];
      const once = (ids: readonly number[]) =>
        ids[0] === bos && ids.filter((x) => x === bos).length === 1;
      assert.ok(once(t.promptIds) && once(t.row.ids), JSON.stringify(t.row.ids));
      const subject = subjectLastToken(tok, req.prompt, t.promptIds, req.subject);
      assert.equal(tok.idToToken(t.promptIds[subject.index]), "France");
      const prefixes = await contextPrefixes(m.model, tok, 2, 3, 0);
      const rows = prefixedRows(t.row, prefixes, m.model.config.contextLength, 1);
      assert.equal(rows.length, 3);
      for (const r of rows) {
        assert.ok(once(r.ids), JSON.stringify(r.ids));
        // The edit's own tokens close every row, scored as in the plain row.
        assert.deepEqual(r.ids.slice(-t.row.ids.length + 1), t.row.ids.slice(1));
        assert.deepEqual(r.targets.slice(-t.row.ids.length + 1), t.row.targets.slice(1));
      }
      const text = await greedy(m.model, tok, tok.encode(req.prompt), 3);
      assert.ok(text.startsWith("The capital of France is"), text);
      // The fluency sample reads the prompt's ids, <s> first, and scores its text without it.
      const sample = await fluency(evalModel(m.model, tok), req.prompt, { maxLength: 12 });
      assert.equal(sample.ids[0], bos);
      assert.ok(sample.text.startsWith("The capital of France is"), sample.text);
    } finally {
      disposeModel(m.model);
    }
  },
);
