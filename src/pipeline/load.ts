// Loads a Hugging Face checkpoint folder (config.json, model.safetensors or its shards,
// tokenizer.json) onto a backend one tensor at a time, and saves a model back as one
// model.safetensors (atomically, never over its input), each tensor in its checkpoint's dtype
// where exact. Weight matrices may stay f16 on the device (see WeightDtype); norms and biases are
// always f32 there.

import type { Backend } from "../../engine/backend.ts";
import { exactWriteDtype, writeSafetensors } from "../io/safetensors.ts";
import type { SourceDtypes, TensorChange } from "../io/patch.ts";
import { loadTokenizer, type Tokenizer } from "../io/tokenizer.ts";
import type { WeightDtype } from "../model/dtype.ts";
import type { CausalLM } from "../model/lm.ts";
import { type LoadedWeights, loadWeights } from "../model/weights.ts";
import type { WorkShape } from "../edit/method.ts";
import { checkBeforeLoad } from "./load-check.ts";
import type { MemoryPlan } from "../plan/plan.ts";

/** A model folder loaded onto a backend (loadModel): the model, its tokenizer and memory plan. */
export interface LoadedModel {
  /** The folder it was loaded from, as given. */
  dir: string;
  /** The model, its weights on the backend. */
  model: CausalLM;
  /** The folder's tokenizer, or null when loadModel was asked for none. */
  tokenizer: Tokenizer | null;
  /**
   * What the matrices were stored as on the device, why any stayed f32, warnings (tensors of the
   * file that config.json does not describe, which are ignored), and each parameter's dtype in
   * the checkpoint (for patches and saved weights); a session model's `weights` alike.
   */
  weights: Omit<LoadedWeights, "model">;
  /** The memory plan the load was checked against (the edit's, when work was given). */
  plan: MemoryPlan;
}

/**
 * Loads the model folder `dir` onto `backend`: checks first, from config.json and the checkpoint's
 * headers alone, that the weights (and `work`, when given) fit, else throws ResourceError; then
 * reads the weights one tensor at a time, and the tokenizer unless `tokenizer` is false.
 */
export async function loadModel(
  dir: string,
  backend: Backend,
  opts: {
    /** Load the folder's tokenizer too (default true). */
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
  const { model, ...weights } = loaded;
  const tokenizer = opts.tokenizer === false ? null : await loadTokenizer(dir, config.vocabSize);
  return { dir, model, tokenizer, weights, plan };
}

/** A float dtype a saved tensor is written in. */
type SavedDtype = ReturnType<typeof exactWriteDtype>;

/**
 * What an edited model was loaded from: each parameter's dtype in its checkpoint
 * (LoadedWeights.storedDtypes) and the changes made since.
 */
export interface WeightSource {
  dtypes: SourceDtypes;
  changes: readonly TensorChange[];
}

/**
 * Writes the model's current weights as safetensors in HF names into `dir`: f16 weights as F16
 * (their exact bits), the others as F32, or, given the `source` they were loaded from, as the
 * dtype each has there (F16 or BF16) when its values are exact in it: an F16 checkpoint's norms
 * and biases stay F16, and only a tensor whose edited values are not (an f32 edit) is F32, so
 * nothing is rounded. Each tensor is read off the device when its turn comes, so the host holds
 * one at a time.
 */
export async function saveWeights(
  model: CausalLM,
  dir: string,
  source?: WeightSource,
): Promise<void> {
  const kept = source ? keptDtypes(source) : new Map<string, SavedDtype>();
  const tensors = model.paramInfo.map((info) => {
    const v = model.params.get(info.name)!.value;
    const dtype = v.dtype === "f16" ? "F16" : kept.get(info.name) ?? "F32";
    const data = async () => {
      const values = await v.toArray();
      // Written as F16 or BF16 only when exact: a change missing from `source` would be rounded.
      if (v.dtype === "f32" && exactWriteDtype(values, dtype) !== dtype) {
        throw new Error(`${info.name}: its values are not exact in ${dtype}, the dtype it keeps`);
      }
      return values;
    };
    return { name: info.name, shape: info.shape, data, dtype };
  });
  await writeSafetensors(`${dir}/model.safetensors`, tensors, { format: "pt" });
}

/**
 * The dtype each parameter held in f32 keeps: its stored one in the source checkpoint when the
 * values of its changes are exact in it (the loaded values are: F16 and BF16 widen to f32
 * exactly), else F32.
 */
function keptDtypes(source: WeightSource): Map<string, SavedDtype> {
  const after = new Map(source.changes.map((c) => [c.name, c.after]));
  const kept = new Map<string, SavedDtype>();
  for (const [name, stored] of source.dtypes) {
    kept.set(name, exactWriteDtype(after.get(name) ?? new Float32Array(), stored));
  }
  return kept;
}
