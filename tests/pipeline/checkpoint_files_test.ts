// A folder without model.safetensors is refused naming what it holds instead: PyTorch's pickle gets
// a sentence of what to do, anything else the question whether it is a model folder at all; a
// sharded checkpoint's index is read (tests/io/sharded_test.ts), so a bad one is named.

import assert from "node:assert/strict";
import { ModelFileError } from "../../src/io/errors.ts";
import { openCheckpoint } from "../../src/io/checkpoint.ts";

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
    assert.match(
      await refusal(),
      /model\.safetensors\.index\.json \[weight_map\]: must be an object of tensor name/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
