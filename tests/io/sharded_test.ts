// Sharded checkpoints (model.safetensors.index.json and the shards it lists): any split of a
// file's tensors over shards reads back as the file (fast-check); an index that names a file
// outside its folder, or that disagrees with its shards, is refused naming the file and tensor; a
// folder on disk opens as its single file did, prefers model.safetensors when it has both, and
// its resume identity shows a changed byte in any shard.

import assert from "node:assert/strict";
import fc from "fast-check";
import { openCheckpoint, weightFiles } from "../../src/io/checkpoint.ts";
import { joinShards, parseShardIndex } from "../../src/io/checkpoint/sharded.ts";
import { ModelFileError } from "../../src/io/errors.ts";
import {
  encodeSafetensors,
  openSafetensors,
  type SafetensorsFile,
  safetensorsFromBytes,
} from "../../src/io/safetensors.ts";
import { checkpointIdentity, weightsIdentity } from "../../src/pipeline/manifest.ts";
import { checkNotInsideModel } from "../../src/pipeline/output-guard.ts";
import { shardedCopy } from "../helpers/checkpoint.ts";
import { TINY } from "../helpers/tiny.ts";

/** Shards in memory: `split` maps each tensor name to its shard's file name. */
async function inMemory(
  tensors: { name: string; shape: number[]; data: Float32Array }[],
  split: Record<string, string>,
): Promise<Map<string, SafetensorsFile>> {
  const files = new Map<string, SafetensorsFile>();
  for (const shard of new Set(Object.values(split))) {
    const mine = tensors.filter((t) => split[t.name] === shard);
    files.set(shard, safetensorsFromBytes(shard, await encodeSafetensors(shard, mine)));
  }
  return files;
}

async function rawTensors(file: SafetensorsFile): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const name of file.tensors.keys()) out.set(name, await file.readRaw(name));
  return out;
}

Deno.test("any split of tensors over shards reads back as the tensors", async () => {
  const tensor = fc.record({
    shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
    shard: fc.integer({ min: 1, max: 4 }),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(tensor, { minLength: 1, maxLength: 8 }), async (specs) => {
      const tensors = specs.map((t, i) => {
        const n = t.shape.reduce((a, b) => a * b, 1);
        return {
          name: `t${i}`,
          shape: t.shape,
          data: Float32Array.from({ length: n }, Math.random),
        };
      });
      const split = Object.fromEntries(specs.map((t, i) => [`t${i}`, `s${t.shard}.safetensors`]));
      const index = parseShardIndex("index.json", { weight_map: split });
      const joined = joinShards(index, await inMemory(tensors, split));
      assert.deepEqual([...joined.tensors.keys()].sort(), tensors.map((t) => t.name).sort());
      for (const t of tensors) {
        assert.deepEqual(await joined.read(t.name), t.data, t.name);
        assert.deepEqual(joined.tensors.get(t.name)!.shape, t.shape);
      }
      await assert.rejects(joined.read("absent"), /index\.json \[absent\]: no such tensor/);
    }),
    { numRuns: 40 },
  );
});

Deno.test("an index that names a file outside its folder, or no tensor, is refused", () => {
  const refusal = (json: unknown) => {
    try {
      parseShardIndex("idx.json", json);
      return "parsed";
    } catch (e) {
      assert.ok(e instanceof ModelFileError, String(e));
      return (e as Error).message;
    }
  };
  assert.equal(refusal([]), "idx.json: index is not a JSON object");
  assert.match(refusal({}), /^idx\.json \[weight_map\]: must be an object/);
  assert.equal(refusal({ weight_map: {} }), "idx.json [weight_map]: lists no tensor");
  for (const bad of ["../x.safetensors", "sub/x.safetensors", "a\\b", "..", "", 3, "idx.json"]) {
    assert.match(
      refusal({ weight_map: { w: bad } }),
      /^idx\.json \[weight_map\.w\]: .* is not a shard file name in the index's folder$/,
      String(bad),
    );
  }
  assert.deepEqual(
    parseShardIndex("idx.json", { weight_map: { a: "2.st", b: "1.st", c: "2.st" } }).shards,
    ["2.st", "1.st"],
  );
});

Deno.test("an index that disagrees with its shards is refused naming the shard and tensor", async () => {
  const t = (name: string) => ({ name, shape: [2], data: new Float32Array([1, 2]) });
  const files = await inMemory([t("a"), t("b"), t("c")], { a: "1.st", b: "1.st", c: "2.st" });
  const refusal = (map: Record<string, string>) => {
    try {
      joinShards(parseShardIndex("idx.json", { weight_map: map }), files);
      return "joined";
    } catch (e) {
      assert.ok(e instanceof ModelFileError, String(e));
      return (e as Error).message;
    }
  };
  assert.equal(refusal({ a: "1.st", b: "1.st", c: "2.st" }), "joined");
  assert.equal(
    refusal({ a: "1.st", c: "2.st" }),
    "1.st [b]: the shard holds a tensor idx.json does not list",
  );
  assert.equal(
    refusal({ a: "1.st", b: "2.st", c: "2.st" }),
    "1.st [b]: the shard holds a tensor idx.json places in 2.st",
  );
  assert.equal(
    refusal({ a: "1.st", b: "1.st", c: "2.st", d: "2.st" }),
    "2.st [d]: idx.json places this tensor here, but the shard does not hold it",
  );
});

Deno.test("a sharded folder opens as its single file, a missing shard is named, and model.safetensors wins", async () => {
  const dir = await shardedCopy(TINY, 3);
  try {
    assert.equal((await weightFiles(dir)).length, 4);
    const [single, sharded] = [
      await openSafetensors(`${TINY}/model.safetensors`),
      await openCheckpoint(dir),
    ];
    try {
      assert.deepEqual(await rawTensors(sharded), await rawTensors(single));
    } finally {
      single.close();
      sharded.close();
    }
    const before = await checkpointIdentity(dir);
    const last = `${dir}/model-00003-of-00003.safetensors`;
    const bytes = await Deno.readFile(last);
    bytes[bytes.length - 1] ^= 1;
    await Deno.writeFile(last, bytes);
    assert.notEqual(await checkpointIdentity(dir), before, "a changed shard byte shows");
    await assert.rejects(checkNotInsideModel(`${dir}/out`), /lies inside the model folder/);

    await Deno.remove(last);
    await assert.rejects(openCheckpoint(dir), (e: Error) => {
      assert.equal(
        e.message,
        `${last}: not found, though model.safetensors.index.json lists it (an unfinished download?)`,
      );
      return true;
    });
    await Deno.copyFile(`${TINY}/model.safetensors`, `${dir}/model.safetensors`);
    assert.deepEqual(await weightFiles(dir), ["model.safetensors"]);
    assert.equal(
      await checkpointIdentity(dir),
      await weightsIdentity(`${dir}/model.safetensors`),
      "a single file's identity is as before shards were read",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
