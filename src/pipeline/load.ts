// Loads a Hugging Face checkpoint folder (config.json, model.safetensors or its shards,
// tokenizer.json) onto a backend one tensor at a time, and saves a model back as one
// model.safetensors (atomically, never over its input). Weight matrices may stay f16 on the
// device (see WeightDtype); norms and biases are always f32.

import type { Backend, DType } from "../../engine/backend.ts";
import { writeSafetensors } from "../io/safetensors.ts";
import { loadTokenizer, type Tokenizer } from "../io/tokenizer.ts";
import type { WeightDtype } from "../model/dtype.ts";
import type { CausalLM } from "../model/lm.ts";
import { type LoadedWeights, loadWeights } from "../model/weights.ts";
import type { WorkShape } from "../edit/method.ts";
import { checkBeforeLoad } from "./load-check.ts";
import type { MemoryPlan } from "../plan/plan.ts";

export interface LoadedModel {
  dir: string;
  model: CausalLM;
  tokenizer: Tokenizer | null;
  /**
   * What the matrices were stored as, why any stayed f32, and warnings (tensors of the file
   * that config.json does not describe, which are ignored).
   */
  weights: { dtype: DType; notes: string[]; warnings: string[] };
  /** The memory plan the load was checked against (the edit's, when work was given). */
  plan: MemoryPlan;
}

export async function loadModel(
  dir: string,
  backend: Backend,
  opts: {
    tokenizer?: boolean;
    /** Also check that this edit work fits (otherwise only the weights are checked). */
    work?: WorkShape;
    /** Device dtype of the weight matrices (default auto). */
    dtype?: WeightDtype;
  } = {},
): Promise<LoadedModel> {
  // Refuses a model that cannot fit from config.json and the header alone (ResourceError),
  // before any weight is read or allocated; the weights are read from the checkpoint it opened.
  const { plan, checkpoint } = await checkBeforeLoad(dir, backend, opts.work, opts.dtype ?? "auto");
  const config = plan.config;
  let loaded: LoadedWeights;
  try {
    loaded = await loadWeights(checkpoint, config, plan.options.weightDtype, backend);
  } finally {
    checkpoint.close();
  }
  const { model, dtype, notes, warnings } = loaded;
  const tokenizer = opts.tokenizer === false ? null : await loadTokenizer(dir, config.vocabSize);
  return { dir, model, tokenizer, weights: { dtype, notes, warnings }, plan };
}

/**
 * Writes the model's current weights as safetensors in HF names into `dir`: F32, and F16 for
 * f16 weights (their exact bits). Each tensor is read off the device when its turn comes, so the
 * host holds one at a time.
 */
export async function saveWeights(model: CausalLM, dir: string): Promise<void> {
  const tensors = model.paramInfo.map((info) => {
    const v = model.params.get(info.name)!.value;
    return {
      name: info.name,
      shape: info.shape,
      data: () => v.toArray(),
      dtype: v.dtype === "f16" ? "F16" as const : "F32" as const,
    };
  });
  await writeSafetensors(`${dir}/model.safetensors`, tensors, { format: "pt" });
}
