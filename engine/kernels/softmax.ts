// Specs of the softmax kernels (being written).

import type { KernelSpec } from "./spec.ts";

export const softmaxKernels: KernelSpec[] = [];
