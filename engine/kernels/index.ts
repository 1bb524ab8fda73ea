// The registry of every kernel both backends implement, by name.

import { BackendError } from "../backend.ts";
import { basicKernels } from "./basic.ts";
import { f16Kernels } from "./f16.ts";
import { layoutKernels } from "./layout.ts";
import { matmulKernels } from "./matmul.ts";
import { normKernels } from "./norm.ts";
import { pointwiseKernels } from "./pointwise.ts";
import { softmaxKernels } from "./softmax.ts";
import type { KernelSpec } from "./spec.ts";
import { unitKernels } from "./units.ts";

const all: KernelSpec[] = [
  ...basicKernels,
  ...matmulKernels,
  ...pointwiseKernels,
  ...normKernels,
  ...softmaxKernels,
  ...layoutKernels,
  ...f16Kernels,
  ...unitKernels,
];

export const KERNELS: ReadonlyMap<string, KernelSpec> = new Map(all.map((k) => [k.name, k]));

export function kernelSpec(name: string): KernelSpec {
  const spec = KERNELS.get(name);
  if (!spec) throw new BackendError(`unknown kernel "${name}"`);
  return spec;
}
