// Test helpers: the device memory a piece of work allocates at its peak, and the largest buffer it
// allocates, measured by watching every alloc of a backend (both backends count allocatedBytes()).

import { type Backend, type DType, DTYPE_BYTES } from "../../engine/backend.ts";

/** Runs fn and returns the highest allocatedBytes() seen during it, minus the level before. */
export async function peakDuring(be: Backend, fn: () => Promise<void>): Promise<number> {
  const base = be.allocatedBytes();
  let peak = base;
  const alloc = be.alloc.bind(be);
  const patched = be as { alloc: Backend["alloc"] };
  patched.alloc = (n, dtype) => {
    const b = alloc(n, dtype);
    peak = Math.max(peak, be.allocatedBytes());
    return b;
  };
  try {
    await fn();
  } finally {
    delete (patched as Partial<Backend>).alloc; // back to the prototype's method
  }
  return peak - base;
}

/** The largest buffer asked of a backend: its bytes in its dtype (unrounded), its dtype. */
export interface LargestAlloc {
  bytes: number;
  dtype: DType;
}

/**
 * Runs fn and returns the largest buffer it allocates on `be` (by its elements times its dtype's
 * bytes, as the planner counts it), or 0 bytes when it allocates none.
 */
export async function largestDuring(be: Backend, fn: () => Promise<void>): Promise<LargestAlloc> {
  let largest: LargestAlloc = { bytes: 0, dtype: "f32" };
  const alloc = be.alloc.bind(be);
  const patched = be as { alloc: Backend["alloc"] };
  patched.alloc = (n, dtype = "f32") => {
    const bytes = n * DTYPE_BYTES[dtype];
    if (bytes > largest.bytes) largest = { bytes, dtype };
    return alloc(n, dtype);
  };
  try {
    await fn();
  } finally {
    delete (patched as Partial<Backend>).alloc; // back to the prototype's method
  }
  return largest;
}
