// A folder without model.safetensors is refused naming what it holds instead: a sharded
// checkpoint's index or PyTorch's pickle get a sentence of what to do, anything else the question
// whether it is a model folder at all.

import assert from "node:assert/strict";
import { ModelFileError } from "../../src/io/errors.ts";
import { openCheckpoint } from "../../src/pipeline/load-check.ts";

Deno.test("a missing model.safetensors is explained by what the folder holds instead", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kne-no-weights-" });
  const refusal = () =>
    openCheckpoint(dir).then(() => "opened", (e) => {
      assert.ok(e instanceof ModelFileError, String(e));
      return (e as Error).message;
    });
  try {
    assert.match(
      await refusal(),
      /model\.safetensors\]: file not found \(is this a model folder\?\)$/,
    );
    await Deno.writeTextFile(`${dir}/pytorch_model.bin`, "");
    assert.match(await refusal(), /only PyTorch's pytorch_model\.bin, which is not read; convert/);
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, "{}");
    assert.match(await refusal(), /file not found: this checkpoint is sharded .*join its shards/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
