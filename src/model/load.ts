// Loads a Hugging Face checkpoint folder (config.json, model.safetensors, tokenizer.json) onto a
// backend, and saves a model back in the same layout (atomically, never over its input).

import type { Backend } from "../../engine/backend.ts";
import { ModelFileError } from "../io/errors.ts";
import { openSafetensors, type SafetensorsFile, writeSafetensors } from "../io/safetensors.ts";
import { loadTokenizer, type Tokenizer } from "../io/tokenizer.ts";
import { buildModel, paramInfoFor } from "./build.ts";
import { GPT2_PREFIX } from "./gpt2.ts";
import type { CausalLM } from "./lm.ts";
import { checkBeforeLoad, type WorkShape } from "./plan.ts";

export interface LoadedModel {
  dir: string;
  model: CausalLM;
  tokenizer: Tokenizer | null;
}

/** Candidate names of a tensor: GPT-2 files exist with and without the transformer. prefix. */
function candidates(name: string): string[] {
  return name.startsWith(GPT2_PREFIX) ? [name, name.slice(GPT2_PREFIX.length)] : [name];
}

export async function loadModel(
  dir: string,
  backend: Backend,
  opts: {
    tokenizer?: boolean;
    /** Also check that this edit work fits (otherwise only the weights are checked). */
    work?: WorkShape;
  } = {},
): Promise<LoadedModel> {
  // Refuses a model that cannot fit from config.json and the header alone (ResourceError),
  // before any weight is read or allocated.
  const config = (await checkBeforeLoad(dir, backend, opts.work)).plan.config;
  const path = `${dir}/model.safetensors`;
  let file: SafetensorsFile;
  try {
    file = await openSafetensors(path);
  } catch (e) {
    if ((e as Error).cause instanceof Deno.errors.NotFound) {
      throw new ModelFileError(
        path,
        "model.safetensors",
        "file not found (is this a model folder?)",
      );
    }
    throw e;
  }
  const weights = new Map<string, Float32Array>();
  try {
    for (const info of paramInfoFor(config)) {
      const found = candidates(info.name).find((n) => file.tensors.has(n));
      if (!found) continue;
      const t = file.tensors.get(found)!;
      if (t.shape.join(",") !== info.shape.join(",")) {
        throw new ModelFileError(
          path,
          found,
          `shape [${t.shape.join(", ")}] does not match the config's [${info.shape.join(", ")}]`,
        );
      }
      weights.set(info.name, await file.read(found));
    }
  } finally {
    file.close();
  }
  const model = buildModel(config, backend, (info) => {
    const w = weights.get(info.name);
    weights.delete(info.name);
    return w;
  }, path);
  const tokenizer = opts.tokenizer === false ? null : await loadTokenizer(dir, config.vocabSize);
  return { dir, model, tokenizer };
}

/** Writes the model's current weights as F32 safetensors in HF names into `dir`. */
export async function saveWeights(model: CausalLM, dir: string): Promise<void> {
  const tensors = [];
  for (const info of model.paramInfo) {
    tensors.push({
      name: info.name,
      shape: info.shape,
      data: await model.params.get(info.name)!.value.toArray(),
    });
  }
  await writeSafetensors(`${dir}/model.safetensors`, tensors, { format: "pt" });
}
