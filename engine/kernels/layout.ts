// Specs of the layout kernels: embedding lookup and its gradient, rotary position embedding,
// axis transposes, grouped-query head repetition and column copies. All are one invocation per
// output element (grid folded past 65535 groups) except embedding_backward (one per column) and
// rope (one workgroup per row).
// Integer data (token ids) are f32 values.

import { BackendError } from "../backend.ts";
import { grid1d, type KernelSpec, rowPieces } from "./spec.ts";

export const layoutKernels: KernelSpec[] = [
  /** out[t] = table[ids[t]]; an id outside [0, V) (or NaN) writes a row of zeros. */
  {
    name: "embedding",
    inputs: ["table", "ids"],
    outputs: ["out"],
    params: [["n", "u32"], ["d", "u32"], ["V", "u32"]],
    sizes: (p) => [p.V * p.d, p.n, p.n * p.d],
    grid: (p) => grid1d(p.n * p.d),
  },
  /**
   * dtable[ids[t]] += dout[t] for every token t in order (accumulates into dtable; repeated ids
   * sum; ids outside [0, V) are skipped). One invocation per column, looping over tokens.
   */
  {
    name: "embedding_backward",
    inputs: ["ids", "dout"],
    outputs: ["dtable"],
    params: [["n", "u32"], ["d", "u32"], ["V", "u32"]],
    sizes: (p) => [p.n, p.n * p.d, p.V * p.d],
    grid: (p) => grid1d(p.d),
  },
  /**
   * Rotary embedding (Hugging Face Llama, rotate_half) of x [batch, T, H, Dh] on each head's
   * first Dr values (GPT-NeoX's partial rotary; Dr = Dh for Llama), the others copied: for
   * i < Dr/2, angle = f32(posOffset + t) * invFreq[i] (one f32 product, the same on both
   * backends; the table of inverse frequencies is the host's, src/model/rope.ts), c = cos,
   * s = sign * sin; pair i is (lo, hi) = (i, i + Dr/2), or (2i, 2i + 1) with interleaved 1
   * (GPT-J's rotate_every_two); out[lo] = x[lo] c - x[hi] s, out[hi] = x[hi] c + x[lo] s.
   * sign = -1 is the backward (transpose) pass. Dr must be even and Dh at most 2048. WebGPU
   * runs one workgroup per (batch, t) row.
   */
  {
    name: "rope",
    inputs: ["x", "invFreq"],
    outputs: ["out"],
    params: [
      ["batch", "u32"],
      ["T", "u32"],
      ["H", "u32"],
      ["Dh", "u32"],
      ["Dr", "u32"],
      ["posOffset", "u32"],
      ["sign", "f32"],
      ["interleaved", "u32"],
    ],
    sizes: (p) => {
      if (p.Dr % 2 !== 0 || p.Dr < 2 || p.Dr > p.Dh || p.Dh > 2048) {
        throw new BackendError(
          `kernel rope: Dr must be even, 2 to Dh, and Dh at most 2048, got Dr ${p.Dr}, Dh ${p.Dh}`,
        );
      }
      if (p.interleaved > 1) {
        throw new BackendError(`kernel rope: interleaved must be 0 or 1, got ${p.interleaved}`);
      }
      const n = p.batch * p.T * p.H * p.Dh;
      return [n, p.Dr / 2, n];
    },
    grid: (p) => grid1d(p.batch * p.T, 1),
  },
  /** out[a, c, b, d] = x[a, b, c, d]: x [A, B, C, D] -> out [A, C, B, D]. */
  {
    name: "transpose_0213",
    inputs: ["x"],
    outputs: ["out"],
    params: [["A", "u32"], ["B", "u32"], ["C", "u32"], ["D", "u32"]],
    sizes: (p) => [p.A * p.B * p.C * p.D, p.A * p.B * p.C * p.D],
    grid: (p) => grid1d(p.A * p.B * p.C * p.D),
    pieces: { over: "A", strides: (p) => [p.B * p.C * p.D, p.B * p.C * p.D] },
  },
  /** out[a, h, t, d] = x[a, floor(h / g), t, d]: x [A, Hkv, T, D] -> out [A, Hkv*g, T, D]. */
  {
    name: "repeat_kv",
    inputs: ["x"],
    outputs: ["out"],
    params: [["A", "u32"], ["Hkv", "u32"], ["g", "u32"], ["T", "u32"], ["D", "u32"]],
    sizes: (p) => [p.A * p.Hkv * p.T * p.D, p.A * p.Hkv * p.g * p.T * p.D],
    grid: (p) => grid1d(p.A * p.Hkv * p.g * p.T * p.D),
  },
  /** dx[a, k, t, d] = sum_{j<g} dout[a, k*g + j, t, d]: the transpose of repeat_kv. */
  {
    name: "repeat_kv_backward",
    inputs: ["dout"],
    outputs: ["dx"],
    params: [["A", "u32"], ["Hkv", "u32"], ["g", "u32"], ["T", "u32"], ["D", "u32"]],
    sizes: (p) => [p.A * p.Hkv * p.g * p.T * p.D, p.A * p.Hkv * p.T * p.D],
    grid: (p) => grid1d(p.A * p.Hkv * p.T * p.D),
  },
  /**
   * out[r, dstOffset + j] = x[r, srcOffset + j] for j < width; the other columns of out are left
   * as they are. Splits a fused QKV projection and assembles its gradient.
   */
  {
    name: "copy_cols",
    inputs: ["x"],
    outputs: ["out"],
    params: [
      ["rows", "u32"],
      ["srcCols", "u32"],
      ["srcOffset", "u32"],
      ["dstCols", "u32"],
      ["dstOffset", "u32"],
      ["width", "u32"],
    ],
    sizes: (p) => {
      if (p.srcOffset + p.width > p.srcCols || p.dstOffset + p.width > p.dstCols) {
        throw new BackendError(
          `kernel copy_cols: columns [${p.srcOffset}, ${p.srcOffset + p.width}) of ${p.srcCols} ` +
            `-> [${p.dstOffset}, ${p.dstOffset + p.width}) of ${p.dstCols} are out of range`,
        );
      }
      return [p.rows * p.srcCols, p.rows * p.dstCols];
    },
    grid: (p) => grid1d(p.rows * p.width),
    pieces: rowPieces((p) => [p.srcCols, p.dstCols]),
  },
];
