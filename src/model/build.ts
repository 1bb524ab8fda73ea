// Builds a CausalLM for a config from host weights (loaded or freshly initialised), checking
// that every parameter the architecture needs is present with the right shape.

import { type Backend, BackendError, type DType } from "../../engine/backend.ts";
import { param, type Var } from "../autograd/variable.ts";
import { shapeStr, Tensor } from "../tensor/tensor.ts";
import type { ModelConfig } from "./config.ts";
import { isMatrix } from "./dtype.ts";
import { Gemma, gemmaParamInfo } from "./gemma.ts";
import { GPT2, gpt2ParamInfo } from "./gpt2.ts";
import { GPTJ, gptjParamInfo } from "./gptj.ts";
import { GPTNeoX, neoxParamInfo } from "./gptneox.ts";
import { Llama, llamaParamInfo } from "./llama.ts";
import type { CausalLM, ParamInfo } from "./lm.ts";

export function paramInfoFor(c: ModelConfig): ParamInfo[] {
  return c.architecture === "gpt2"
    ? gpt2ParamInfo(c)
    : c.architecture === "gptneox"
    ? neoxParamInfo(c)
    : c.architecture === "gptj"
    ? gptjParamInfo(c)
    : c.architecture === "gemma"
    ? gemmaParamInfo(c)
    : llamaParamInfo(c);
}

/**
 * Uploads `weights` (by HF name) and builds the model, its matrices as `matrixDtype` (f16
 * rounds to nearest even); throws naming a missing or misshapen weight.
 */
export function buildModel(
  config: ModelConfig,
  backend: Backend,
  weights: (info: ParamInfo) => Float32Array | undefined,
  source = "weights",
  matrixDtype: DType = "f32",
): CausalLM {
  const params = new Map<string, Var>();
  try {
    for (const info of paramInfoFor(config)) {
      const data = weights(info);
      if (!data) throw new BackendError(`${source}: tensor ${info.name} is missing`);
      const n = info.shape.reduce((a, b) => a * b, 1);
      if (data.length !== n) {
        throw new BackendError(
          `${source}: tensor ${info.name} has ${data.length} values, expected shape ${
            shapeStr(info.shape)
          }`,
        );
      }
      const dtype = isMatrix(info) ? matrixDtype : "f32";
      params.set(info.name, param(Tensor.fromArray(backend, data, info.shape, dtype), info.name));
    }
  } catch (e) {
    for (const p of params.values()) p.value.free();
    throw e;
  }
  return assembleModel(config, backend, params);
}

/** The model of `config` over parameters already on the device (by HF name). */
export function assembleModel(
  config: ModelConfig,
  backend: Backend,
  params: ReadonlyMap<string, Var>,
): CausalLM {
  return config.architecture === "gpt2"
    ? new GPT2(config, backend, params)
    : config.architecture === "gptneox"
    ? new GPTNeoX(config, backend, params)
    : config.architecture === "gptj"
    ? new GPTJ(config, backend, params)
    : config.architecture === "gemma"
    ? new Gemma(config, backend, params)
    : new Llama(config, backend, params);
}

/** Deterministic xorshift-based normal samples. */
export function gaussian(n: number, std: number, seed: number): Float32Array {
  let s = (seed >>> 0) || 0x9e3779b9;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 0x100000000;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u())), a = 2 * Math.PI * u();
    out[i] = r * Math.cos(a) * std;
    if (i + 1 < n) out[i + 1] = r * Math.sin(a) * std;
  }
  return out;
}

/**
 * GPT-2 style initialisation: N(0, 0.02) weights, residual output projections scaled by
 * 1/sqrt(2 * layers), norms at the identity (weights 1; Gemma's, stored as offsets from 1, 0),
 * biases at 0.
 */
export function initWeights(config: ModelConfig, seed: number): (info: ParamInfo) => Float32Array {
  const identity = config.architecture === "gemma" ? 0 : 1;
  return (info) => {
    const n = info.shape.reduce((a, b) => a * b, 1);
    if (info.layout === "vector") {
      return new Float32Array(n).fill(info.name.endsWith("bias") ? 0 : identity);
    }
    const residual = info.group === "attn_out" || info.group === "mlp_out";
    const std = 0.02 * (residual ? 1 / Math.sqrt(2 * config.nLayers) : 1);
    let h = seed;
    for (const ch of info.name) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
    return gaussian(n, std, h);
  };
}

/** Frees every parameter's device memory. */
export function disposeModel(model: CausalLM): void {
  for (const p of model.params.values()) {
    p.zeroGrad();
    p.value.free();
  }
}
