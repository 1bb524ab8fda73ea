// The system memory available now, for the memory plan's host check: Deno's reading, else Infinity
// (without --allow-sys, or in a page, which has no such reading), and then only the device limits
// are checked.

export function systemMemoryAvailable(): number {
  if (typeof Deno === "undefined") return Infinity;
  try {
    return Deno.systemMemoryInfo().available;
  } catch {
    return Infinity;
  }
}
