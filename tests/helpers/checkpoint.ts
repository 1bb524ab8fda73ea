// Test checkpoints: a temp copy of a fixture folder with its weight matrices stored as F16 or BF16
// (vectors stay F32), optionally with one out-of-range entry or one tensor left out, for the f16
// load, edit and patch tests; and a copy split into shards with a model.safetensors.index.json,
// as save_pretrained writes a large model.

import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.ts";

export interface HalfCopyOptions {
  /** Tensor whose entry 0 becomes 1e6 (beyond f16's range). */
  big?: string;
  /** Tensor left out of the copy. */
  drop?: string;
}

/** Writes `src`'s tensors with 2-D ones as `dtype` into a new temp folder; returns its path. */
export async function halfCopy(
  src: string,
  dtype: "F16" | "BF16",
  opts: HalfCopyOptions = {},
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kne-half-" });
  for (const f of ["config.json", "tokenizer.json"]) {
    await Deno.copyFile(`${src}/${f}`, `${dir}/${f}`);
  }
  const file = await openSafetensors(`${src}/model.safetensors`);
  const tensors = [];
  try {
    for (const [name, info] of file.tensors) {
      if (name === opts.drop) continue;
      const data = await file.read(name);
      if (name === opts.big) data[0] = 1e6;
      tensors.push({
        name,
        shape: info.shape,
        data,
        dtype: info.shape.length === 2 ? dtype : "F32" as const,
      });
    }
  } finally {
    file.close();
  }
  await writeSafetensors(`${dir}/model.safetensors`, tensors, { format: "pt" });
  return dir;
}

/**
 * Writes `src`'s tensors, in their stored dtypes, as `shards` files of consecutive tensors with the
 * index naming them, beside copies of its config.json and tokenizer.json, into a new temp folder
 * (no model.safetensors); returns its path.
 */
export async function shardedCopy(src: string, shards: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kne-sharded-" });
  for (const f of ["config.json", "tokenizer.json"]) {
    await Deno.copyFile(`${src}/${f}`, `${dir}/${f}`);
  }
  const file = await openSafetensors(`${src}/model.safetensors`);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  try {
    const names = [...file.tensors.keys()];
    const per = Math.ceil(names.length / shards);
    for (let s = 0; s < shards; s++) {
      const pad = (n: number) => String(n).padStart(5, "0");
      const shard = `model-${pad(s + 1)}-of-${pad(shards)}.safetensors`;
      const part = [];
      for (const name of names.slice(s * per, (s + 1) * per)) {
        const info = file.tensors.get(name)!;
        part.push({
          name,
          shape: info.shape,
          data: await file.read(name),
          dtype: info.dtype as "F32" | "F16" | "BF16",
        });
        weightMap[name] = shard;
        totalSize += info.end - info.begin;
      }
      await writeSafetensors(`${dir}/${shard}`, part, { format: "pt" });
    }
  } finally {
    file.close();
  }
  const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
  await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify(index, null, 2));
  return dir;
}
