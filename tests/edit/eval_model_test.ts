// The edit pipeline's generation goes through the KV cache and still produces exactly the tokens
// of the metrics' one-forward-per-token loop: top-k samples (fluency), across the context limit
// (where it falls back to a window of the last ctx tokens), and the greedy completions; on the
// default model, whose tokenizer puts a space before a text, they begin as the prompt was typed,
// and a character cut by the token budget is left out rather than shown as U+FFFD.

import assert from "node:assert/strict";
import { createBackend } from "../../engine/select.ts";
import { noGrad } from "../../src/autograd/variable.ts";
import { evalModel, greedy } from "../../src/edit/eval-model.ts";
import { generateTopK } from "../../src/eval/fluency.ts";
import { mulberry32 } from "../../src/random/rng.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { disposeModel } from "../../src/model/build.ts";
import { argmaxRows } from "../../src/tensor/ops.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { TINY } from "../helpers/tiny.ts";

testBackends(
  "evalModel.generate samples what the per-token loop samples, past the context too",
  async (be) => {
    const { model, tokenizer } = await loadModel(TINY, be, { tokenizer: true });
    const em = evalModel(model, tokenizer!);
    const { generate: _, ...loop } = em; // the same model without its generate hook
    const prompt = tokenizer!.encode("The capital of France is");
    const ctx = model.config.contextLength;
    for (const [maxLength, topK, seed] of [[ctx - 4, 5, 1], [ctx + 20, 5, 2], [ctx + 3, 1, 3]]) {
      const fast = await em.generate!(prompt, { maxLength, topK, rng: mulberry32(seed) });
      const slow = await generateTopK(loop, prompt, { maxLength, topK, rng: mulberry32(seed) });
      assert.deepEqual(fast, slow, `maxLength ${maxLength}, top-${topK}`);
      assert.equal(fast.length, maxLength);
    }
  },
);

testBackends("greedy completions are the uncached argmax continuation", async (be) => {
  const { model, tokenizer } = await loadModel(TINY, be, { tokenizer: true });
  const tok = tokenizer!;
  const prompt = tok.encode("The capital of Spain is");
  const ids = [...prompt];
  for (let i = 0; i < 8; i++) {
    const am = await tidyAsync(async () =>
      await argmaxRows(
        noGrad(() => model.forward(Tensor.fromArray(be, ids, [1, ids.length]))).value,
      ).toArray()
    );
    ids.push(am[am.length - 1]);
    if (ids.at(-1) === model.config.eosTokenId) break;
  }
  assert.equal(await greedy(model, tok, prompt, 8), tok.decode(ids));
});

Deno.test("the default model reads a prompt that begins with its subject, and shows it as typed", async () => {
  const be = await createBackend("wasm");
  try {
    const dir = new URL("../../models/kne-facts-base", import.meta.url).pathname;
    const { model, tokenizer } = await loadModel(dir, be, { tokenizer: true });
    const tok = tokenizer!;
    const prompt = "France's capital is";
    const ids = tok.encode(prompt);
    // Its tokenizer puts a space before the text, so the name is cut as in running text ...
    assert.ok(tok.addsPrefixSpace);
    assert.equal(tok.idToToken(ids[0]), "ĠFrance");
    // ... the unedited model knows the fact (it answered "Bratislava" without the space) ...
    const text = await greedy(model, tok, ids, 3);
    assert.ok(text.startsWith(`${prompt} Paris`), text);
    // ... and the texts shown and scored begin as the user typed them, without that space.
    assert.equal(evalModel(model, tok).decode(ids), prompt);
    // A completion that ends inside a character (its first bytes only: "Pizza 🍕" cut before
    // the emoji's last byte) shows without the replacement character it used to end on.
    const cut = tok.encode("Pizza 🍕").slice(0, -1);
    assert.ok(tok.decode(cut).endsWith("\uFFFD"));
    assert.equal(await greedy(model, tok, cut, 0), "Pizza ");
    disposeModel(model);
  } finally {
    await be.dispose();
  }
});
