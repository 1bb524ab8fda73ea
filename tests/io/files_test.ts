// src/io/files.ts: a finished folder takes the place of another (or of nothing) by renames,
// leaving neither the temporary name nor the set-aside DIR.old behind; exists follows links.

import { equal as assertEquals } from "node:assert/strict";
import { exists, replaceDir } from "../../src/io/files.ts";

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
    assertEquals(await exists(`${dir}/fresh`), true);
    assertEquals(await exists(`${dir}/next`), false);
    await Deno.symlink(`${dir}/gone`, `${dir}/dangling`);
    assertEquals(await exists(`${dir}/dangling`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
