// Builds a session model (the library's loaded model) from a folder's contents already read:
// config.json and tokenizer.json parsed (the tokenizer.json a folder's other tokenizer files make,
// where it has none), tokenizer_config.json, and the weights as bytes or an opened checkpoint.
// Where the contents come from is the callers' business (folder.ts: a URL or bytes; load-dir.ts:
// a folder on disk).

import type { Backend } from "../../engine/backend.ts";
import { type SafetensorsFile, safetensorsFromBytes } from "../io/safetensors.ts";
import { type Tokenizer, tokenizerFromJson } from "../io/tokenizer.ts";
import type { ModelConfig } from "../model/config.ts";
import { resolveWeightDtype, type WeightDtype } from "../model/dtype.ts";
import { disposeModel } from "../model/build.ts";
import type { CausalLM } from "../model/lm.ts";
import { parseModelConfig } from "../model/read-config.ts";
import { type LoadedWeights, loadWeights } from "../model/weights.ts";
import { oneAtATime } from "./serial.ts";

/**
 * A loaded model (loadModelFromDir, loadModelFromUrl, loadModelFromFileMap, loadModelFromFiles):
 * its weights on one backend, its tokenizer and config. Edits change it in place; freeModel frees
 * its weights.
 */
export interface SessionModel {
  /** Where it came from (a URL or a label), for messages. */
  source: string;
  /** Its config.json, normalised. */
  config: ModelConfig;
  /** The model, its weights on the backend it was loaded onto. */
  model: CausalLM;
  /** Its tokenizer. */
  tokenizer: Tokenizer;
  /** How its weights were loaded: the matrices' device dtype, notes, warnings, stored dtypes. */
  weights: Omit<LoadedWeights, "model">;
}

/** A model folder's contents, already read and parsed, for loadModelFromFiles. */
export interface ModelFiles {
  /** Names the model in errors (e.g. its URL). */
  source: string;
  /** config.json, parsed. */
  config: unknown;
  /** tokenizer.json, parsed. */
  tokenizer: unknown;
  /** tokenizer_config.json, parsed (absent: none). */
  tokenizerConfig?: Record<string, unknown>;
  /**
   * model.safetensors's bytes, or a checkpoint already opened (a folder's file or its shards
   * joined), which is read and left open.
   */
  weights: Uint8Array | SafetensorsFile;
}

/** Builds the model from its files' contents (every check of the folder loader but the plan). */
export async function loadModelFromFiles(
  files: ModelFiles,
  backend: Backend,
  dtype: WeightDtype = "auto",
): Promise<SessionModel> {
  const at = (name: string) => `${files.source}/${name}`;
  const config = parseModelConfig(files.config, at("config.json"));
  const tokenizer = tokenizerFromJson(
    at("tokenizer.json"),
    files.tokenizer,
    files.tokenizerConfig ?? {},
    config.vocabSize,
  );
  const file = files.weights instanceof Uint8Array
    ? safetensorsFromBytes(at("model.safetensors"), files.weights)
    : files.weights;
  const stored = [...file.tensors.values()].map((t) => t.dtype);
  const device = resolveWeightDtype(dtype, backend, stored);
  // Its tensors are made one call at a time, as an edit's are (./serial.ts).
  const { model, ...weights } = await oneAtATime(() => loadWeights(file, config, device, backend));
  return { source: files.source, config, model, tokenizer, weights };
}

/**
 * Frees the model's weights on its backend (the backend itself stays usable for other models):
 * without it a loaded model's memory was held until the backend was disposed, and a WASM
 * backend's dispose() stops its threads but keeps its memory. Any later use of `m` throws
 * BackendError ("... was freed"). Runs after the library's calls made before it have settled.
 */
export function freeModel(m: SessionModel): Promise<void> {
  return oneAtATime(() => Promise.resolve(disposeModel(m.model)));
}
