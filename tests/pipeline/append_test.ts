// A record appended to a full disk names its file: write's own OS error names none, and a run
// on a full disk ended with "cannot use a file: no space left on the device" (a user audit).

import assert from "node:assert/strict";
import { FileSystemError } from "../../src/io/errors.ts";
import { appendDurably } from "../../src/pipeline/resume.ts";

Deno.test({
  name: "appendDurably on a full device names the file and the reason",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // /dev/full takes an open and refuses every write with ENOSPC.
    await assert.rejects(
      appendDurably("/dev/full", "{}\n"),
      (e: Error) =>
        e instanceof FileSystemError &&
        e.message === "cannot write /dev/full: no space left on the device",
    );
  },
});
