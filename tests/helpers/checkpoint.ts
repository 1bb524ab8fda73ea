// Test checkpoints in half precision: a temp copy of a fixture folder with its weight matrices
// stored as F16 or BF16 (vectors stay F32), optionally with one out-of-range entry or one tensor
// left out, for the f16 load, edit and patch tests.

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
