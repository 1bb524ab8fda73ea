// The WASM allocator: size classes never under-serve and waste at most 12.5% above 4 KiB, and
// workloads whose shapes drift (as sequential edits with growing anchor sets do) reuse freed
// blocks instead of growing memory without bound.

import fc from "fast-check";
import { HEAP_BASE, LinearAllocator, sizeClass } from "../../engine/wasm/allocator.ts";

Deno.test("size classes cover the request with bounded waste", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (bytes) => {
      const c = sizeClass(bytes);
      if (c < bytes || c % 64 !== 0) throw new Error(`class ${c} for ${bytes}`);
      if (bytes > 4096 && c > bytes * 1.125 + 64) {
        throw new Error(`class ${c} wastes too much for ${bytes}`);
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("drifting shapes reuse freed memory", () => {
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536 });
  const a = new LinearAllocator(memory);
  // 300 rounds of a working set whose sizes grow by 1% per round, freed at the end of each round.
  let maxTop = 0;
  for (let round = 0; round < 300; round++) {
    const blocks = [];
    for (let i = 0; i < 20; i++) {
      const bytes = Math.floor((10_000 + 5_000 * i) * (1 + round / 100));
      blocks.push(a.alloc(bytes));
    }
    for (const b of blocks) a.release(b);
    maxTop = Math.max(maxTop, a.topBytes);
  }
  // The last round's working set is about 4x the first; the heap stays within a few working sets
  // instead of growing by one working set per round (which would be ~300x).
  const lastSet = Array.from({ length: 20 }, (_, i) => (10_000 + 5_000 * i) * 4).reduce((x, y) =>
    x + y
  );
  if (maxTop - HEAP_BASE > 4 * lastSet) {
    throw new Error(`heap grew to ${maxTop - HEAP_BASE} bytes for a ${lastSet}-byte working set`);
  }
  if (a.liveBytes !== 0) throw new Error(`${a.liveBytes} bytes still live`);
});
