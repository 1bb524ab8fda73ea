// replaceDir: a finished folder takes the place of another (or of nothing) by renames, leaving
// neither the temporary name nor the set-aside DIR.old behind.

import { equal as assertEquals } from "node:assert/strict";
import { replaceDir } from "../../src/io/replace.ts";

Deno.test("replaceDir replaces an existing folder and fills a missing one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, text] of [["new", "new"], ["old", "old"]]) {
      await Deno.mkdir(`${dir}/${name}`);
      await Deno.writeTextFile(`${dir}/${name}/f.txt`, text);
    }
    await replaceDir(`${dir}/new`, `${dir}/old`);
    assertEquals(await Deno.readTextFile(`${dir}/old/f.txt`), "new");
    await Deno.mkdir(`${dir}/next`);
    await Deno.writeTextFile(`${dir}/next/g.txt`, "g");
    await replaceDir(`${dir}/next`, `${dir}/fresh`);
    assertEquals(await Deno.readTextFile(`${dir}/fresh/g.txt`), "g");
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(left.join(), "fresh,old");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
