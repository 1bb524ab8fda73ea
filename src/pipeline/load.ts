// Loads a Hugging Face checkpoint folder (config.json, model.safetensors, tokenizer.json) onto a
// backend one tensor at a time, and saves a model back in the same layout (atomically, never over
// its input). Weight matrices may stay f16 on the device (see WeightDtype); norms and biases are
// always f32.

import type { Backend, DType } from "../../engine/backend.ts";
import { ModelFileError } from "../io/errors.ts";
import { openSafetensors, type SafetensorsFile, writeSafetensors } from "../io/safetensors.ts";
import { loadTokenizer, type Tokenizer } from "../io/tokenizer.ts";
import { param, type Var } from "../autograd/variable.ts";
import { Tensor } from "../tensor/tensor.ts";
import { assembleModel, paramInfoFor } from "../model/build.ts";
import type { ModelConfig } from "../model/config.ts";
import { F16_MAX, isMatrix, type WeightDtype } from "../model/dtype.ts";
import { GPT2_PREFIX } from "../model/gpt2.ts";
import type { CausalLM, ParamInfo } from "../model/lm.ts";
import type { WorkShape } from "../edit/method.ts";
import { checkBeforeLoad, type MemoryPlan } from "./plan.ts";

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
    /** Device dtype of the weight matrices (default auto). */
    dtype?: WeightDtype;
  } = {},
): Promise<LoadedModel> {
  // Refuses a model that cannot fit from config.json and the header alone (ResourceError),
  // before any weight is read or allocated.
  const { plan } = await checkBeforeLoad(dir, backend, opts.work, opts.dtype ?? "auto");
  const config = plan.config;
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
  const params = new Map<string, Var>();
  const notes: string[] = [];
  let warnings: string[] = [];
  let dtype: DType = "f32";
  try {
    const infos = paramInfoFor(config);
    warnings = checkTensorSet(file, config, infos);
    dtype = plan.options.weightDtype;
    for (const info of infos) {
      const found = candidates(info.name).find((n) => file.tensors.has(n));
      if (!found) throw new ModelFileError(path, info.name, "tensor is missing");
      const t = file.tensors.get(found)!;
      if (t.shape.join(",") !== info.shape.join(",")) {
        throw new ModelFileError(
          path,
          found,
          `shape [${t.shape.join(", ")}] does not match the config's [${info.shape.join(", ")}]`,
        );
      }
      params.set(info.name, await readParam(file, found, info, dtype === "f16", backend, notes));
    }
  } catch (e) {
    for (const p of params.values()) p.value.free();
    throw e;
  } finally {
    file.close();
  }
  const model = assembleModel(config, backend, params);
  const tokenizer = opts.tokenizer === false ? null : await loadTokenizer(dir, config.vocabSize);
  return { dir, model, tokenizer, weights: { dtype, notes, warnings }, plan };
}

/** Buffers some checkpoints carry besides the parameters (the engine computes them itself). */
const BUFFERS = /\.(attn\.bias|attn\.masked_bias|rotary_emb\.inv_freq)$/;

/**
 * Compares the checkpoint's tensor names with those the config describes, from the header
 * alone: tensors of layers at or beyond the config's layer count mean the two disagree (the
 * model would silently lose those layers), a ModelFileError; other tensors the config does not
 * use are returned as a warning (known buffers and a tied output head excepted).
 */
function checkTensorSet(
  file: SafetensorsFile,
  config: ModelConfig,
  infos: readonly ParamInfo[],
): string[] {
  const used = new Set(infos.flatMap((i) => candidates(i.name)));
  const beyond: string[] = [];
  const unknown: string[] = [];
  let top = -1;
  for (const name of file.tensors.keys()) {
    const layer = /(?:^|\.)(?:h|layers)\.(\d+)\./.exec(name);
    if (layer && Number(layer[1]) >= config.nLayers) {
      beyond.push(name);
      top = Math.max(top, Number(layer[1]));
    } else if (!used.has(name) && !BUFFERS.test(name) && !/^lm_head\.weight$/.test(name)) {
      unknown.push(name);
    }
  }
  if (beyond.length > 0) {
    const key = config.architecture === "gpt2" ? "n_layer" : "num_hidden_layers";
    throw new ModelFileError(
      file.path,
      beyond[0],
      `the checkpoint holds layers up to ${top} (${beyond.length} tensors beyond layer ${
        config.nLayers - 1
      }), but config.json's ${key} is ${config.nLayers}: the config and the checkpoint ` +
        `disagree, and those layers would be dropped`,
    );
  }
  if (unknown.length === 0) return [];
  const shown = unknown.slice(0, 8).join(", ");
  return [
    `${file.path}: ignoring ${unknown.length} tensor${unknown.length === 1 ? "" : "s"} ` +
    `config.json does not describe: ${shown}${unknown.length > 8 ? ", ..." : ""}`,
  ];
}

/** Index of the first NaN or infinite entry of `data`, or -1 (one branch-free pass first). */
export function firstNonFinite(data: Float32Array): number {
  let acc = 0;
  // x * 0 is 0 for every finite x and NaN for NaN and +-Inf.
  for (let i = 0; i < data.length; i++) acc += data[i] * 0;
  if (acc === 0) return -1;
  return data.findIndex((x) => !Number.isFinite(x));
}

/** Index of the first NaN or infinite entry of raw F16 bits (exponent all ones), or -1. */
function firstNonFiniteF16(bits: Uint16Array): number {
  let acc = 0;
  for (let i = 0; i < bits.length; i++) acc |= ((bits[i] & 0x7c00) + 0x400) >> 15;
  if (acc === 0) return -1;
  return bits.findIndex((h) => (h & 0x7c00) === 0x7c00);
}

function refuseNonFinite(file: SafetensorsFile, name: string, at: number, value: number): never {
  throw new ModelFileError(
    file.path,
    name,
    `entry ${at} (flat index) is ${value} (NaN or infinite weights are refused: the checkpoint is damaged)`,
  );
}

/**
 * One parameter on the device. F16 data kept as f16 is uploaded bit for bit; other data as f16
 * is rounded to nearest even, unless an entry is beyond the f16 range (then it stays f32, noted).
 */
async function readParam(
  file: SafetensorsFile,
  name: string,
  info: ParamInfo,
  f16: boolean,
  backend: Backend,
  notes: string[],
): Promise<Var> {
  const stored = file.tensors.get(name)!.dtype;
  let t: Tensor;
  if (f16 && isMatrix(info) && stored === "F16") {
    const raw = await file.readRaw(name);
    const half = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    const bad = firstNonFiniteF16(half);
    if (bad >= 0) {
      refuseNonFinite(
        file,
        name,
        bad,
        half[bad] & 0x3ff ? NaN : half[bad] & 0x8000 ? -Infinity : Infinity,
      );
    }
    t = Tensor.empty(backend, info.shape, "f16");
    backend.upload(t.buffer, half);
  } else {
    const data = await file.read(name);
    const bad = firstNonFinite(data);
    if (bad >= 0) refuseNonFinite(file, name, bad, data[bad]);
    let keepF16 = f16 && isMatrix(info);
    if (keepF16) {
      let max = 0;
      for (const x of data) max = Math.max(max, Math.abs(x));
      if (!(max <= F16_MAX)) {
        keepF16 = false;
        notes.push(`${info.name} stays f32: |w| reaches ${max}, beyond f16's ${F16_MAX}`);
      }
    }
    t = Tensor.fromArray(backend, data, info.shape, keepF16 ? "f16" : "f32");
  }
  return param(t, info.name);
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
