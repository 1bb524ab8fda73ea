// Specs of the layout kernels (being written).

import type { KernelSpec } from "./spec.ts";

export const layoutKernels: KernelSpec[] = [];
