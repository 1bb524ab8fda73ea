// Which files hold a model folder's weights, in the order transformers looks for them: one
// model.safetensors, a sharded safetensors index, one pytorch_model.bin, a sharded .bin index;
// and how a file of each kind is read once its bytes are in memory (a page fetched them).

import { ModelFileError } from "../errors.ts";
import { torchCheckpointFromBytes } from "../pytorch/read.ts";
import type { SafetensorsFile } from "../safetensors/format.ts";
import { safetensorsFromBytes } from "../safetensors/read.ts";

export interface WeightLayout {
  /** The file a folder of this layout has: the weights, or the index of the shards. */
  readonly file: string;
  readonly sharded: boolean;
}

/** Every layout, most preferred first (a folder with several is read by the first). */
export const WEIGHT_LAYOUTS: readonly WeightLayout[] = [
  { file: "model.safetensors", sharded: false },
  { file: "model.safetensors.index.json", sharded: true },
  { file: "pytorch_model.bin", sharded: false },
  { file: "pytorch_model.bin.index.json", sharded: true },
];

/** The kind of a weight file by its name: safetensors, or a torch.save archive (.bin, .pt). */
export function weightKind(path: string): "safetensors" | "torch" {
  if (path.endsWith(".safetensors")) return "safetensors";
  if (/\.(bin|pt|pth)$/.test(path)) return "torch";
  throw new ModelFileError(path, null, "not a weight file this reads (.safetensors or .bin)");
}

/** A weight file's bytes, read by its kind (`path` names it in errors). */
export async function weightsFromBytes(path: string, bytes: Uint8Array): Promise<SafetensorsFile> {
  return weightKind(path) === "safetensors"
    ? safetensorsFromBytes(path, bytes)
    : await torchCheckpointFromBytes(path, bytes);
}
