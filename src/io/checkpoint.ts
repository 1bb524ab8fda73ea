// A model folder's weights on disk, found as transformers finds them (checkpoint/layout.ts):
// model.safetensors, a sharded checkpoint's index and shards (read as one file), or PyTorch's
// pytorch_model.bin (one file or shards). A folder with none of them is refused naming what it
// holds instead.

import { WEIGHT_LAYOUTS, weightKind, type WeightLayout } from "./checkpoint/layout.ts";
import { joinShards, parseShardIndex, type ShardIndex } from "./checkpoint/sharded.ts";
import { ModelFileError } from "./errors.ts";
import { exists, joinPath, readJsonFile } from "./files.ts";
import { openTorchCheckpoint } from "./pytorch/read.ts";
import { openSafetensors, type SafetensorsFile } from "./safetensors.ts";

/** The file a folder without weights is refused for. */
const EXPECTED = "model.safetensors";

/** What a folder without weights holds instead, in words after "file not found". */
async function whyNoWeights(dir: string): Promise<string> {
  for (const [file, what] of [["tf_model.h5", "TensorFlow's"], ["flax_model.msgpack", "Flax's"]]) {
    if (await exists(joinPath(dir, file))) {
      return `: the folder has only ${what} ${file}, which is not read; convert it to ` +
        "model.safetensors";
    }
  }
  return " (is this a model folder?)";
}

/** Reads and checks the shard index at `path`. */
async function readShardIndex(path: string): Promise<ShardIndex> {
  const json = await readJsonFile(
    path,
    (detail, cause) => new ModelFileError(path, null, detail, { cause }),
  );
  return parseShardIndex(path, json);
}

/** The first layout `dir` has (and its index when sharded); none is a ModelFileError. */
async function locateWeights(
  dir: string,
): Promise<{ layout: WeightLayout; index: ShardIndex | null }> {
  for (const layout of WEIGHT_LAYOUTS) {
    const path = joinPath(dir, layout.file);
    if (!(await exists(path))) continue;
    return { layout, index: layout.sharded ? await readShardIndex(path) : null };
  }
  throw new ModelFileError(
    joinPath(dir, EXPECTED),
    EXPECTED,
    `file not found${await whyNoWeights(dir)}`,
  );
}

/** The names of the files that hold `dir`'s weights: the single file, or the index and shards. */
export async function weightFiles(dir: string): Promise<string[]> {
  const { layout, index } = await locateWeights(dir);
  return index === null ? [layout.file] : [layout.file, ...index.shards];
}

/** Opens one weight file by its kind. */
async function openWeightFile(path: string): Promise<SafetensorsFile> {
  return weightKind(path) === "safetensors"
    ? await openSafetensors(path)
    : await openTorchCheckpoint(path);
}

/** The folder's weights, opened (headers read, every shard checked against the index). */
export async function openCheckpoint(dir: string): Promise<SafetensorsFile> {
  const { layout, index } = await locateWeights(dir);
  if (index === null) return await openWeightFile(joinPath(dir, layout.file));
  const opened = new Map<string, SafetensorsFile>();
  try {
    for (const shard of index.shards) {
      const path = joinPath(dir, shard);
      if (!(await exists(path))) {
        throw new ModelFileError(
          path,
          null,
          `not found, though ${layout.file} lists it (an unfinished download?)`,
        );
      }
      opened.set(shard, await openWeightFile(path));
    }
    return joinShards(index, opened);
  } catch (e) {
    opened.forEach((f) => f.close());
    throw e;
  }
}
