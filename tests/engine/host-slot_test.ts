// hostSlot: a host set first wins and the default is never imported; without one, Deno's default
// module is imported once and its export used; a module without the export is a clear error.

import assert from "node:assert/strict";
import { hostSlot } from "../../engine/host-slot.ts";

const moduleOf = (source: string) =>
  new URL(`data:application/javascript,${encodeURIComponent(source)}`);

Deno.test("hostSlot: a set host is used and the default module is not imported", async () => {
  const slot = hostSlot<{ name: string }>(moduleOf("throw new Error('imported')"), "h", "none");
  assert.equal(slot.now(), null);
  slot.set({ name: "page" });
  assert.deepEqual(await slot.ready(), { name: "page" });
  assert.deepEqual(slot.now(), { name: "page" });
});

Deno.test("hostSlot: without a set host, Deno's default export is imported once", async () => {
  const slot = hostSlot<{ n: number }>(
    moduleOf(
      "globalThis.__slotLoads = (globalThis.__slotLoads ?? 0) + 1; export const h = { n: 7 };",
    ),
    "h",
    "none",
  );
  const [a, b] = await Promise.all([slot.ready(), slot.ready()]);
  assert.equal(a, b);
  assert.deepEqual(a, { n: 7 });
  assert.equal((globalThis as { __slotLoads?: number }).__slotLoads, 1);
  slot.set({ n: 8 });
  assert.deepEqual(await slot.ready(), { n: 8 });
});

Deno.test("hostSlot: a default module without the export is refused by name", async () => {
  const slot = hostSlot<unknown>(moduleOf("export const other = 1;"), "denoHost", "none");
  await assert.rejects(slot.ready(), /exports no denoHost/);
});
