// A checkpoint split over several files, as Hugging Face's save_pretrained writes a large model:
// an index (model.safetensors.index.json, pytorch_model.bin.index.json) maps each tensor name to
// the shard file beside it that holds it. The index is checked in full (shards are plain file
// names in the same folder; every listed tensor is in its shard and every tensor of a shard is
// listed there, so an index and shards of two different saves are refused), and the shards are
// read as one file.

import { ModelFileError } from "../errors.ts";
import { isPlainObject } from "../json.ts";
import type { SafetensorsFile, TensorInfo } from "../safetensors/format.ts";

/** A parsed index: which shard holds each tensor, and the shards in the order first named. */
export interface ShardIndex {
  readonly path: string;
  readonly weightMap: ReadonlyMap<string, string>;
  readonly shards: readonly string[];
}

/** A shard's name must stay in the index's folder: no separators, no "." or "..". */
function isPlainFileName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !/[/\\\0]/.test(name);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Validates an index's parsed JSON (`path` names it in errors). */
export function parseShardIndex(path: string, json: unknown): ShardIndex {
  if (!isPlainObject(json)) throw new ModelFileError(path, null, "index is not a JSON object");
  const map = json.weight_map;
  if (!isPlainObject(map)) {
    throw new ModelFileError(
      path,
      "weight_map",
      "must be an object of tensor name -> shard file",
    );
  }
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== "string" || !isPlainFileName(shard) || shard === baseName(path)) {
      throw new ModelFileError(
        path,
        `weight_map.${name}`,
        `${JSON.stringify(shard)} is not a shard file name in the index's folder`,
      );
    }
    weightMap.set(name, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  if (weightMap.size === 0) throw new ModelFileError(path, "weight_map", "lists no tensor");
  return { path, weightMap, shards };
}

/**
 * The shards of `index` (each opened, by file name) read as one file: its tensors in shard order,
 * each shard's in data order. Throws when a shard lacks a tensor the index gives it, or holds one
 * the index does not give it.
 */
export function joinShards(
  index: ShardIndex,
  opened: ReadonlyMap<string, SafetensorsFile>,
): SafetensorsFile {
  const owner = new Map<string, SafetensorsFile>();
  const tensors = new Map<string, TensorInfo>();
  for (const shard of index.shards) {
    const file = opened.get(shard)!;
    for (const [name, info] of file.tensors) {
      const listed = index.weightMap.get(name);
      if (listed !== shard) {
        throw new ModelFileError(
          file.path,
          name,
          listed === undefined
            ? `the shard holds a tensor ${index.path} does not list`
            : `the shard holds a tensor ${index.path} places in ${listed}`,
        );
      }
      owner.set(name, file);
      tensors.set(name, info);
    }
  }
  for (const [name, shard] of index.weightMap) {
    if (!owner.has(name)) {
      throw new ModelFileError(
        opened.get(shard)!.path,
        name,
        `${index.path} places this tensor here, but the shard does not hold it`,
      );
    }
  }
  const at = (name: string): SafetensorsFile => {
    const file = owner.get(name);
    if (!file) throw new ModelFileError(index.path, name, "no such tensor");
    return file;
  };
  return {
    path: index.path,
    metadata: {},
    tensors,
    read: async (name) => await at(name).read(name),
    readRaw: async (name) => await at(name).readRaw(name),
    close: () => opened.forEach((f) => f.close()),
  };
}
