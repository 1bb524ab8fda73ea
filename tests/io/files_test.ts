// src/io/files.ts: a finished folder takes the place of another (or of nothing) by renames,
// leaving neither the temporary name nor the set-aside DIR.old behind; exists follows links;
// fsError words a raw OS error and leaves an error that already names its file alone; files
// written together (make-base-requests' four) are all new, or after a failure all old.

import { equal as assertEquals, rejects } from "node:assert/strict";
import { FileSystemError, SafetensorsError } from "../../src/io/errors.ts";
import { exists, fsError, replaceDir, writeTextFilesTogether } from "../../src/io/files.ts";
import { GuardError } from "../../src/pipeline/output-guard.ts";

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

Deno.test("fsError keeps an error that names its file, one ending in an OS error included", () => {
  // A full disk while saving the edited model read "cannot use a file: no space left on the
  // device": the writer's message named the file, and fsError rebuilt it from its tail.
  const typed = new SafetensorsError(
    "/out/model/model.safetensors",
    null,
    "write failed: No space left on device (os error 28)",
  );
  assertEquals(fsError(typed), typed);
  const guard = new GuardError("--out /x: Read-only file system (os error 30)");
  assertEquals(fsError(guard), guard);
  // A raw OS error of Deno is still put in words, with its path.
  const raw = fsError(new Error("No space left on device (os error 28): writefile '/out/a.json'"));
  assertEquals(raw instanceof FileSystemError, true);
  assertEquals((raw as Error).message, "cannot write /out/a.json: no space left on the device");
});

Deno.test("writeTextFilesTogether writes every file or, failing, none", async () => {
  // make-base-requests wrote its four files one after another: a failure between two left a mix.
  const dir = await Deno.makeTempDir();
  const names = ["test.json", "dev.json", "anchors.json"];
  const read = () => Promise.all(names.map((n) => Deno.readTextFile(`${dir}/${n}`)));
  try {
    for (const n of names) await Deno.writeTextFile(`${dir}/${n}`, `old ${n}`);
    // The last file cannot be written (its folder is missing): the first two stay old.
    await rejects(() =>
      writeTextFilesTogether([
        [`${dir}/test.json`, "new test"],
        [`${dir}/dev.json`, "new dev"],
        [`${dir}/missing/anchors.json`, "new anchors"],
      ])
    );
    assertEquals((await read()).join(), "old test.json,old dev.json,old anchors.json");
    // A folder where a file goes is refused before any rename.
    await Deno.mkdir(`${dir}/demo.json`);
    await rejects(
      () =>
        writeTextFilesTogether([
          [`${dir}/test.json`, "new test"],
          [`${dir}/demo.json`, "new demo"],
        ]),
      /demo\.json is not a file/,
    );
    assertEquals((await read()).join(), "old test.json,old dev.json,old anchors.json");
    assertEquals((await Deno.stat(`${dir}/demo.json`)).isDirectory, true);
    await Deno.remove(`${dir}/demo.json`);
    await writeTextFilesTogether(names.map((n) => [`${dir}/${n}`, `new ${n}`] as const));
    assertEquals((await read()).join(), "new test.json,new dev.json,new anchors.json");
    // No temporary is left, after the failures or the success.
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(left.join(), "anchors.json,dev.json,test.json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
