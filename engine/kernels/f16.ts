// Specs of the kernels that read or write f16 buffers. Weights may be stored as f16 to halve their
// bytes; every product and sum is still formed in f32.
//   matmul_f16, matmul_nt_f16: matmul and matmul_nt (engine/kernels/matmul.ts) with B in f16.
//     Together they cover a linear layer's forward and its input gradient for either weight
//     layout (GPT-2's Conv1D k x n, Llama's Linear n x k); weight gradients are f32 products of
//     f32 activations and need no f16 variant.
//   embedding_f16: embedding with an f16 table (the tied LM head is matmul_nt_f16).
//   f32_to_f16: y[i] = x[i] rounded to the nearest f16, ties to even; beyond the f16 range gives
//     ±Infinity, NaN stays NaN.
//   f16_to_f32: y[i] = x[i] (exact).
// f16 buffers are raw halves. On WebGPU the matmuls, embedding and gather_cols read them as
// array<f16> on a device with shader-f16, else as pairs in u32 words with unpack2x16float
// (engine/webgpu/wgsl.ts); conversions and writes use integer rounding on the bits either way, and
// nothing is computed in f16. The WASM kernels convert in software.

import { layoutKernels } from "./layout.ts";
import { matmulKernels } from "./matmul.ts";
import { grid1d, type KernelSpec } from "./spec.ts";

/** `name` with binding `f16` in f16: its WGSL with the override `<F16>_HALF` set. */
function variant(base: KernelSpec[], name: string, f16: string): KernelSpec {
  const spec = base.find((k) => k.name === name);
  if (!spec) throw new Error(`no kernel ${name} to derive an f16 variant from`);
  return {
    ...spec,
    name: `${name}_f16`,
    source: spec.source ?? name,
    constants: { ...spec.constants, [`${f16.toUpperCase()}_HALF`]: 1 },
    dtypes: { [f16]: "f16" },
  };
}

export const f16Kernels: KernelSpec[] = [
  variant(matmulKernels, "matmul", "b"),
  variant(matmulKernels, "matmul_nt", "b"),
  variant(layoutKernels, "embedding", "table"),
  {
    name: "f32_to_f16",
    inputs: ["x"],
    outputs: ["y"],
    dtypes: { y: "f16" },
    params: [["n", "u32"]],
    sizes: (p) => [p.n, p.n],
    // WebGPU: one invocation per word of two halves.
    grid: (p) => grid1d(Math.ceil(p.n / 2)),
  },
  {
    name: "f16_to_f32",
    inputs: ["x"],
    outputs: ["y"],
    dtypes: { x: "f16" },
    params: [["n", "u32"]],
    sizes: (p) => [p.n, p.n],
    grid: (p) => grid1d(p.n),
  },
];
