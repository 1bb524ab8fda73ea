// A model folder's weights on disk: model.safetensors, or the shards a sharded checkpoint's
// model.safetensors.index.json lists (read as one file). A folder with neither is refused naming
// what it holds instead.

import { ModelFileError, SafetensorsError } from "./errors.ts";
import { exists, fsReason, joinPath, jsonReason, readRegularText } from "./files.ts";
import {
  joinShards,
  openSafetensors,
  parseShardIndex,
  type SafetensorsFile,
  SHARD_INDEX,
  type ShardIndex,
} from "./safetensors.ts";

/** The single weight file of a folder (preferred when a folder has both, as transformers does). */
export const WEIGHTS_FILE = "model.safetensors";

/** What a folder without weights holds instead, in words after "file not found". */
async function whyNoWeights(dir: string): Promise<string> {
  if (await exists(joinPath(dir, "pytorch_model.bin"))) {
    return ": the folder has only PyTorch's pytorch_model.bin, which is not read; convert it to " +
      "model.safetensors";
  }
  return " (is this a model folder?)";
}

/** Reads and checks `dir`'s shard index. */
export async function readShardIndex(dir: string): Promise<ShardIndex> {
  const path = joinPath(dir, SHARD_INDEX);
  let text: string;
  try {
    text = await readRegularText(path);
  } catch (e) {
    throw new SafetensorsError(path, null, `cannot read: ${fsReason(e)}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(path, null, `not valid JSON: ${jsonReason(e)}`, { cause: e });
  }
  return parseShardIndex(path, json);
}

/**
 * Where `dir`'s weights are: null for model.safetensors, else the shard index; a folder with
 * neither is a ModelFileError saying what it holds instead.
 */
async function locateWeights(dir: string): Promise<ShardIndex | null> {
  if (await exists(joinPath(dir, WEIGHTS_FILE))) return null;
  if (await exists(joinPath(dir, SHARD_INDEX))) return await readShardIndex(dir);
  throw new ModelFileError(
    joinPath(dir, WEIGHTS_FILE),
    WEIGHTS_FILE,
    `file not found${await whyNoWeights(dir)}`,
  );
}

/** The names of the files that hold `dir`'s weights: model.safetensors, or the index and shards. */
export async function weightFiles(dir: string): Promise<string[]> {
  const index = await locateWeights(dir);
  return index === null ? [WEIGHTS_FILE] : [SHARD_INDEX, ...index.shards];
}

/** The folder's weights, opened (headers read, every shard checked against the index). */
export async function openCheckpoint(dir: string): Promise<SafetensorsFile> {
  const index = await locateWeights(dir);
  if (index === null) return await openSafetensors(joinPath(dir, WEIGHTS_FILE));
  const opened = new Map<string, SafetensorsFile>();
  try {
    for (const shard of index.shards) {
      const path = joinPath(dir, shard);
      if (!(await exists(path))) {
        throw new SafetensorsError(
          path,
          null,
          `not found, though ${SHARD_INDEX} lists it (an unfinished download?)`,
        );
      }
      opened.set(shard, await openSafetensors(path));
    }
    return joinShards(index, opened);
  } catch (e) {
    opened.forEach((f) => f.close());
    throw e;
  }
}
