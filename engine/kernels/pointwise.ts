// Specs of the pointwise kernels (being written).

import type { KernelSpec } from "./spec.ts";

export const pointwiseKernels: KernelSpec[] = [];
