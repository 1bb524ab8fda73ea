// Specs of the norm kernels (being written).

import type { KernelSpec } from "./spec.ts";

export const normKernels: KernelSpec[] = [];
