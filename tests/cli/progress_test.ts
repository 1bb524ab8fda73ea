// The progress bar off a terminal (a log file, CI): one line at the end of a phase, and one for a
// phase that stops before its total (an update that stops early), with the count it reached. On a
// terminal such a phase used to stay drawn with its ETA ("3/60 ... ETA 22s"); it ends on its count,
// "stopped early", and a phase stopped at Ctrl-C (training) on its count, "interrupted".

import assert from "node:assert/strict";

const PROGRESS = new URL("../../src/cli/progress.ts", import.meta.url).href;

/** stderr of a fresh process that runs `code` with Progress imported (stderr is a pipe). */
async function stderrOf(code: string): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `import { Progress } from "${PROGRESS}";\n${code}`],
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return new TextDecoder().decode(r.stderr);
}

Deno.test("off a terminal a finished phase writes one line, with its total", async () => {
  const err = await stderrOf(
    `const p = new Progress("update", 60, "step"); for (let i = 1; i <= 60; i++) p.update(i, "loss 1");`,
  );
  const lines = err.trim().split("\n");
  assert.equal(lines.length, 1, err);
  assert.match(lines[0], /^update \[#{24}\] 60\/60 .* loss 1$/);
});

Deno.test("off a terminal a phase that stops early still writes its last count", async () => {
  const err = await stderrOf(
    `const p = new Progress("update", 60, "step"); for (let i = 1; i <= 8; i++) p.update(i, "loss " + i); p.finish(); p.finish();`,
  );
  const lines = err.trim().split("\n");
  assert.equal(lines.length, 1, err);
  assert.equal(lines[0], `update [###${"-".repeat(21)}] 8/60 stopped early loss 8`);
});

Deno.test("on a terminal a phase that stops early is redrawn on its count, without an ETA", async () => {
  const err = await stderrOf(
    `const p = new Progress("update", 60, "step"); Object.defineProperty(p, "isTty", { value: true });
     for (let i = 1; i <= 3; i++) p.update(i, "loss " + i); p.finish();`,
  );
  const last = err.split("\r\x1b[2K").at(-1)!;
  assert.equal(last, `update [#${"-".repeat(23)}] 3/60 stopped early loss 3\n`);
});

Deno.test("a phase stopped at Ctrl-C ends on its count as interrupted, not stopped early", async () => {
  // Training's bar said "stopped early" when the user pressed Ctrl-C.
  const code = (tty: boolean) =>
    `const p = new Progress("train", 60, "step");${
      tty ? ` Object.defineProperty(p, "isTty", { value: true });` : ""
    } for (let i = 1; i <= 8; i++) p.update(i, "loss " + i); p.finish("interrupted");`;
  const off = await stderrOf(code(false));
  assert.equal(off, `train [###${"-".repeat(21)}] 8/60 interrupted loss 8\n`);
  const on = await stderrOf(code(true));
  assert.equal(
    on.split("\r\x1b[2K").at(-1),
    `train [###${"-".repeat(21)}] 8/60 interrupted loss 8\n`,
  );
});

Deno.test("a phase's first report, before any step is timed, shows no rate or ETA", async () => {
  // The edit's bars start at the count of their first report ("1/16 0.0 step/s ETA 0s" before).
  const err = await stderrOf(
    `const p = new Progress("attribution", 16, "step", 1); Object.defineProperty(p, "isTty", { value: true });
     p.update(1);`,
  );
  const first = err.split("\r\x1b[2K").at(1)!;
  assert.equal(first, `attribution [##${"-".repeat(22)}] 1/16 ? step/s ETA ? `);
});
