// A Llama-style folder whose tokenizer is only SentencePiece's tokenizer.model (no tokenizer.json)
// loads by every loader with the same tokenizer, and edits from the command line, its edited
// checkpoint keeping tokenizer.model so that it loads again. The model is the tiny Llama fixture
// with its vocabulary widened to the 600 pieces of the SentencePiece fixture.

import assert from "node:assert/strict";
import { join } from "node:path";
import { createBackend, loadModelFromDir, loadModelFromUrl } from "../../mod.ts";
import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.ts";
import { loadTokenizer } from "../../src/io/tokenizer.ts";
import { FAST, FIXTURES, runEdit } from "../reliability/cli_helpers.ts";

const VOCAB = 600;
const PROMPTS = ["The capital of France is", "Salaries in Peru are paid in"];

/** The tiny Llama with VOCAB embedding and head rows (its 96, then small seeded values). */
async function sentencePieceLlama(dir: string): Promise<void> {
  const src = join(FIXTURES, "tiny-llama");
  const config = JSON.parse(await Deno.readTextFile(join(src, "config.json")));
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify({ ...config, vocab_size: VOCAB }),
  );
  await Deno.copyFile(
    join(FIXTURES, "sentencepiece/llama/tokenizer.model"),
    join(dir, "tokenizer.model"),
  );
  const file = await openSafetensors(join(src, "model.safetensors"));
  let seed = 7;
  const small = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.04;
  const tensors = [];
  try {
    for (const [name, info] of file.tensors) {
      let data = await file.read(name), shape = info.shape;
      if (name === "model.embed_tokens.weight" || name === "lm_head.weight") {
        const wide = Float32Array.from({ length: VOCAB * shape[1] }, small);
        wide.set(data);
        [data, shape] = [wide, [VOCAB, shape[1]]];
      }
      tensors.push({ name, shape, data });
    }
  } finally {
    file.close();
  }
  await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
}

Deno.test("a Llama folder with only tokenizer.model loads by every loader and edits", async () => {
  const root = await Deno.makeTempDir({ prefix: "kne-spm-folder-" });
  const backend = await createBackend("wasm");
  try {
    const model = join(root, "model"), out = join(root, "out");
    await Deno.mkdir(model);
    await sentencePieceLlama(model);
    const cli = await loadTokenizer(model);
    for (
      const m of [
        await loadModelFromDir(model, backend),
        await loadModelFromUrl(new URL(`file://${model}/`), backend),
      ]
    ) {
      for (const text of PROMPTS) assert.deepEqual(m.tokenizer.encode(text), cli.encode(text));
      assert.deepEqual(m.tokenizer.leadingIds, [1]);
    }
    const r = await runEdit([
      ...["--model", model, "--prompt", PROMPTS[0], "--target", "Rome", "--out", out, ...FAST],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const kept = [...Deno.readDirSync(join(out, "model"))].map((e) => e.name).sort();
    assert.deepEqual(kept, ["config.json", "model.safetensors", "tokenizer.model"]);
    const again = await loadTokenizer(join(out, "model"));
    for (const text of PROMPTS) assert.deepEqual(again.encode(text), cli.encode(text));
  } finally {
    backend.dispose();
    await Deno.remove(root, { recursive: true });
  }
});
