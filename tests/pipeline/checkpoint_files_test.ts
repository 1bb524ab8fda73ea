// A folder's weights are found as transformers finds them, and one without weights it reads is
// refused naming what it holds instead: TensorFlow's or Flax's file gets a sentence of what to do,
// anything else the question whether it is a model folder at all; a shard index or a
// pytorch_model.bin present is read (tests/io/sharded_test.ts, tests/io/pytorch_test.ts), so a
// bad one is named.

import assert from "node:assert/strict";
import { openCheckpoint, weightFiles } from "../../src/io/checkpoint.ts";
import { ModelFileError } from "../../src/io/errors.ts";

Deno.test("a folder without weights it reads is refused, naming what it holds instead", async () => {
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
    await Deno.writeTextFile(`${dir}/flax_model.msgpack`, "");
    assert.match(await refusal(), /only Flax's flax_model\.msgpack, which is not read; convert/);
    await Deno.writeTextFile(`${dir}/tf_model.h5`, "");
    assert.match(await refusal(), /only TensorFlow's tf_model\.h5, which is not read; convert/);
    await Deno.writeTextFile(
      `${dir}/pytorch_model.bin.index.json`,
      '{"weight_map": {"w": "a.bin"}}',
    );
    assert.deepEqual(await weightFiles(dir), ["pytorch_model.bin.index.json", "a.bin"]);
    await Deno.writeTextFile(`${dir}/pytorch_model.bin`, "");
    assert.match(await refusal(), /pytorch_model\.bin: not a torch\.save archive/);
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, "{}");
    assert.match(
      await refusal(),
      /model\.safetensors\.index\.json \[weight_map\]: must be an object of tensor name/,
    );
    await Deno.writeTextFile(`${dir}/model.safetensors`, "");
    assert.match(await refusal(), /model\.safetensors: file is 0 bytes, too short for a header/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
