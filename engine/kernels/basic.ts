// Specs of the elementwise basics: fill and add.

import { elementPieces, grid1d, type KernelSpec } from "./spec.ts";

export const basicKernels: KernelSpec[] = [
  {
    name: "fill",
    inputs: [],
    outputs: ["out"],
    params: [["n", "u32"], ["value", "f32"]],
    sizes: (p) => [p.n],
    grid: (p) => grid1d(p.n),
    pieces: elementPieces(1),
  },
  {
    name: "add",
    inputs: ["a", "b"],
    outputs: ["out"],
    params: [["n", "u32"]],
    sizes: (p) => [p.n, p.n, p.n],
    grid: (p) => grid1d(p.n),
    pieces: elementPieces(3),
  },
];
