// The process's peak resident memory (Linux's VmHWM), and resetting it between measurements.

/** Peak RSS in bytes (Linux), else the current RSS. */
export function peakRssBytes(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss;
}

/** Resets the kernel's peak-RSS counter (Linux: writing 5 to clear_refs); false if it cannot. */
export function resetPeakRss(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}
