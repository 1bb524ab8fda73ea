// PyTorch checkpoints (pytorch_model.bin), against files torch.save itself wrote
// (tests/oracle/make_torch_bin.py), in the zip format and the legacy one: every storage dtype and
// every kind of view (transpose, slice with an offset, stride-0 expand, empty, scalar) reads as
// torch's own contiguous copy, bit for bit; GPT-2 (tied head: one storage, two names; zip, legacy
// and sharded) and Llama (BF16) load, by every loader, as the same models' safetensors do; a
// pickle that calls a function and a training checkpoint are refused saying why; and no
// corruption of a file makes the reader fail other than with a TorchCheckpointError naming it.

import assert from "node:assert/strict";
import fc from "fast-check";
import { createBackend, loadModelFromDir, loadModelFromUrl } from "../../mod.ts";
import { openCheckpoint, weightFiles } from "../../src/io/checkpoint.ts";
import { TorchCheckpointError } from "../../src/io/errors.ts";
import { openTorchCheckpoint, torchCheckpointFromBytes } from "../../src/io/pytorch/read.ts";
import { openSafetensors } from "../../src/io/safetensors.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { weightBits } from "../helpers/tiny.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const BIN = `${FIXTURES}torch-bin/`;

for (const file of ["views.bin", "views-legacy.bin"]) {
  Deno.test(`every dtype and view torch.save writes reads as torch's contiguous copy (${file})`, async () => {
    const [bin, want] = [
      await openTorchCheckpoint(`${BIN}${file}`),
      await openSafetensors(`${BIN}views.safetensors`),
    ];
    try {
      assert.deepEqual([...bin.tensors.keys()].sort(), [...want.tensors.keys()].sort());
      for (const [name, info] of want.tensors) {
        const got = bin.tensors.get(name)!;
        assert.equal(got.dtype, name === "bool" ? "BOOL" : info.dtype, name);
        assert.deepEqual(got.shape, info.shape, name);
        assert.deepEqual(await bin.readRaw(name), await want.readRaw(name), name);
        if (["F64", "F32", "F16", "BF16"].includes(info.dtype)) {
          assert.deepEqual(await bin.read(name), await want.read(name), name);
        }
      }
      await assert.rejects(bin.read("i64"), /\[i64\]: dtype I64 cannot be read as float32/);
      await assert.rejects(bin.readRaw("nope"), /\[nope\]: no such tensor/);
    } finally {
      bin.close();
      want.close();
    }
  });
}

Deno.test("GPT-2, Llama and sharded .bin folders load by every loader as their safetensors", async () => {
  const backend = await createBackend("wasm");
  try {
    for (
      const [folder, twin] of [
        ["tiny-gpt2", "tiny-gpt2"],
        ["tiny-gpt2-sharded", "tiny-gpt2"],
        ["tiny-gpt2-legacy", "tiny-gpt2"],
        ["tiny-llama", "tiny-llama"],
      ]
    ) {
      const dir = `${BIN}${folder}`;
      const want = await weightBits((await loadModel(`${FIXTURES}${twin}`, backend)).model);
      const cli = await loadModel(dir, backend);
      assert.deepEqual(await weightBits(cli.model), want, `${folder}: command line`);
      assert.deepEqual(cli.weights.warnings, [], `${folder}: a tied lm_head is not warned about`);
      const lib = await loadModelFromDir(dir, backend);
      assert.deepEqual(await weightBits(lib.model), want, `${folder}: loadModelFromDir`);
      const url = await loadModelFromUrl(new URL(`file://${dir}/`), backend);
      assert.deepEqual(await weightBits(url.model), want, `${folder}: loadModelFromUrl`);
    }
    assert.deepEqual(await weightFiles(`${BIN}tiny-gpt2-sharded`), [
      "pytorch_model.bin.index.json",
      "pytorch_model-00001-of-00002.bin",
      "pytorch_model-00002-of-00002.bin",
    ]);
  } finally {
    backend.dispose();
  }
});

Deno.test("a pickle that calls a function and a training checkpoint are refused", async () => {
  const refusal = (name: string) =>
    openTorchCheckpoint(`${BIN}${name}`).then(() => "read", (e) => {
      assert.ok(e instanceof TorchCheckpointError, String(e));
      return (e as Error).message.slice(BIN.length);
    });
  assert.equal(
    await refusal("code.bin"),
    "code.bin [data.pkl]: calls posix.system, which a state dict of tensors does not; refused " +
      "(reading it would mean running code the file names)",
  );
  assert.match(
    await refusal("code-legacy.bin"),
    /^code-legacy\.bin \[pickle\]: calls posix\.system/,
  );
  assert.match(await refusal("training.bin"), /^training\.bin \[model\]: is not a tensor/);
  assert.match(await refusal("absent.bin"), /^absent\.bin: cannot open: no such file/);
});

for (const file of ["views.bin", "views-legacy.bin"]) {
  Deno.test(`a corrupted file reads or is refused naming it, never another failure (${file})`, async () => {
    const good = await Deno.readFile(`${BIN}${file}`);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.option(fc.nat(good.length - 1), { nil: undefined }),
        async (flips, cut) => {
          const bytes = good.slice(0, cut);
          for (const [at, x] of flips) if (at < bytes.length) bytes[at] ^= x;
          try {
            const file = await torchCheckpointFromBytes("bad.bin", bytes);
            for (const name of file.tensors.keys()) await file.readRaw(name);
          } catch (e) {
            assert.ok(e instanceof TorchCheckpointError, `${(e as Error)?.stack ?? e}`);
            assert.match((e as Error).message, /^bad\.bin/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
}

Deno.test("a .bin folder's checkpoint opens with model.safetensors preferred when both are there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kne-bin-" });
  try {
    await Deno.copyFile(`${BIN}tiny-llama/pytorch_model.bin`, `${dir}/pytorch_model.bin`);
    const bin = await openCheckpoint(dir);
    assert.equal(bin.tensors.get("model.embed_tokens.weight")!.dtype, "BF16");
    bin.close();
    await Deno.copyFile(`${FIXTURES}tiny-gpt2/model.safetensors`, `${dir}/model.safetensors`);
    assert.deepEqual(await weightFiles(dir), ["model.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
