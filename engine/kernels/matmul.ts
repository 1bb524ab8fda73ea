// Specs of the matmul kernels (being written).

import type { KernelSpec } from "./spec.ts";

export const matmulKernels: KernelSpec[] = [];
