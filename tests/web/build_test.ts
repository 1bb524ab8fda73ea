// The page's build (scripts/build-web.ts): a bundle is refused when it still reaches a Node or
// Deno API, and the page's three bundles build without one (the host seams keep Deno's file,
// thread and system code out of the engine worker and the kernel thread).

import { strict as assert } from "node:assert";
import { browserUnsafe, buildWeb } from "../../scripts/build-web.ts";

Deno.test("a bundle reaching a Node built-in or a Deno API is refused", () => {
  assert.equal(browserUnsafe('import { x } from "node:fs";'), 'import { x } from "node:fs";');
  assert.equal(browserUnsafe('var fs = __require("node:fs");'), '__require("node:fs")');
  assert.equal(browserUnsafe("return await Deno.readFile(url);"), "Deno.readFile");
  // What a browser runs: a check for Deno, and names that merely contain it.
  assert.equal(browserUnsafe('if (typeof Deno === "undefined") return null;'), null);
  assert.equal(browserUnsafe("const notDeno = 1; myDeno.x = 2;"), null);
});

Deno.test("the page's bundles build without a Node built-in or a Deno API", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kne-web-build-" });
  try {
    // buildWeb refuses (throws) a bundle that browserUnsafe flags.
    await buildWeb(new URL(`file://${dir}/`));
    const bundles = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".js"));
    assert.deepEqual(bundles.sort(), ["engine-worker.js", "kernel-thread.js", "main.js"]);
    for (const name of bundles) {
      assert.equal(browserUnsafe(await Deno.readTextFile(`${dir}/${name}`)), null, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
