// Puts a checkpoint's tensors onto a backend one at a time and assembles the model: names
// matched to the config (GPT-2 files exist with and without the transformer. prefix), shapes and
// finiteness checked, matrices kept f16 on the device when asked. The file may be on disk or in
// memory (src/io/safetensors.ts); src/pipeline/load.ts adds the memory plan and the folder.

import { type Backend, type DType, DTYPE_BYTES } from "../../engine/backend.ts";
import { ModelFileError } from "../io/errors.ts";
import type { SafetensorsFile } from "../io/safetensors.ts";
import { param, type Var } from "../autograd/variable.ts";
import { Tensor } from "../tensor/tensor.ts";
import { assembleModel, paramInfoFor } from "./build.ts";
import type { ModelConfig } from "./config.ts";
import { F16_MAX, isMatrix } from "./dtype.ts";
import { GPT2_PREFIX } from "./gpt2.ts";
import type { CausalLM, ParamInfo } from "./lm.ts";

/** A model built from its checkpoint: the model, the dtype its matrices are held in, notes. */
export interface LoadedWeights {
  /** The model, its parameters uploaded to the backend. */
  model: CausalLM;
  /** What the matrices were stored as on the device. */
  dtype: DType;
  /** Why any matrix stayed f32. */
  notes: string[];
  /** Tensors of the file that config.json does not describe (they are ignored). */
  warnings: string[];
  /**
   * Each parameter's dtype in the checkpoint (F32, F16, BF16), which a patch records so that
   * reverting it writes the checkpoint back as it was.
   */
  storedDtypes: Map<string, string>;
}

/** Candidate names of a tensor: GPT-2 files exist with and without the transformer. prefix. */
function candidates(name: string): string[] {
  return name.startsWith(GPT2_PREFIX) ? [name, name.slice(GPT2_PREFIX.length)] : [name];
}

/** The name parameter `name` has in `file` (with or without GPT-2's prefix), if it is there. */
function storedName(file: SafetensorsFile, name: string): string | undefined {
  return candidates(name).find((n) => file.tensors.has(n));
}

/**
 * Reads every parameter `config` describes from `file` onto `backend` (`dtype` f16: matrices as
 * f16) and assembles the model; on an error, what was uploaded is freed. The caller closes
 * `file`.
 */
export async function loadWeights(
  file: SafetensorsFile,
  config: ModelConfig,
  dtype: DType,
  backend: Backend,
): Promise<LoadedWeights> {
  const path = file.path;
  const params = new Map<string, Var>();
  const notes: string[] = [];
  const storedDtypes = new Map<string, string>();
  let warnings: string[] = [];
  try {
    const infos = paramInfoFor(config);
    warnings = checkTensorSet(file, config, infos);
    for (const info of infos) {
      const found = storedName(file, info.name);
      if (!found) throw new ModelFileError(path, info.name, "tensor is missing");
      const t = file.tensors.get(found)!;
      if (t.shape.join(",") !== info.shape.join(",")) {
        throw new ModelFileError(
          path,
          found,
          `shape [${t.shape.join(", ")}] does not match the config's [${info.shape.join(", ")}]`,
        );
      }
      storedDtypes.set(info.name, t.dtype);
      params.set(info.name, await readParam(file, found, info, dtype === "f16", backend, notes));
    }
  } catch (e) {
    for (const p of params.values()) p.value.free();
    throw e;
  }
  return { model: assembleModel(config, backend, params), dtype, notes, warnings, storedDtypes };
}

/** Buffers some checkpoints carry besides the parameters (the engine computes them itself). */
const BUFFERS = /\.(attn|attention)\.(bias|masked_bias)$|\.rotary_emb\.inv_freq$/;

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
    const key = config.architecture === "gpt2" || config.architecture === "gptj"
      ? "n_layer"
      : "num_hidden_layers";
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
        // The memory plan, made from the headers, counted it in f16: its f32 buffer may be over
        // the device's per-buffer limit, which the plan's check could not see.
        const bytes = data.length * DTYPE_BYTES.f32, limit = backend.limits().maxBufferBytes;
        if (bytes > limit) {
          throw new ModelFileError(
            file.path,
            name,
            `|w| reaches ${max}, beyond f16's ${F16_MAX}, so it stays f32: one buffer of ${
              bytes.toLocaleString("en-US")
            } bytes, over the device's limit of ${limit.toLocaleString("en-US")} bytes per buffer`,
          );
        }
      }
    }
    t = Tensor.fromArray(backend, data, info.shape, keepF16 ? "f16" : "f32");
  }
  return param(t, info.name);
}
