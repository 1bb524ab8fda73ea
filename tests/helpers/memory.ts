// Test helper: the device memory a piece of work allocates at its peak, measured by watching
// every alloc of a backend (both backends count allocatedBytes()).

import type { Backend } from "../../engine/backend.ts";

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
