// Smaller holes of the edit command, through the real CLI on a copy of the tiny GPT-2 fixture:
// --force never replaces a device node or a link; a second run on the same --out is refused
// while the first is alive (OUT.lock) and a killed run's lock is taken over, but an OUT.lock the
// tool did not write is never removed nor read blocking; a FIFO or a device as a model,
// tokenizer or hyperparameter file is refused instead of hanging; raw OS and library messages
// become typed errors naming the file and field; control characters are escaped in `error:`
// lines; a blank prompt is reported against `prompt`.

import assert from "node:assert/strict";
import { join } from "node:path";
import { printable } from "../../src/cli/message.ts";
import { FileSystemError } from "../../src/io/errors.ts";
import { fsError } from "../../src/io/files.ts";
import { loadTokenizer, TokenizerError } from "../../src/io/tokenizer.ts";
import {
  copyModel,
  exists,
  FAST,
  REQUESTS,
  runEdit,
  type RunResult,
  startEdit,
} from "./cli_helpers.ts";
import { FAULTS } from "./counts.ts";

const TMP = await Deno.makeTempDir({ prefix: "kne-hostile-" });
const MODEL = await copyModel("tiny-gpt2", join(TMP, "model"));
const QUICK = join(TMP, "quick.json");
await Deno.writeTextFile(QUICK, JSON.stringify({ igSteps: 2, steps: 8 }));
const SLOW = join(TMP, "slow.json");
await Deno.writeTextFile(SLOW, JSON.stringify({ igSteps: 2, steps: 700, earlyStopLoss: 0 }));
const opts = { sanitizeResources: false, sanitizeOps: false };

const edit = (out: string, extra: string[] = [], hp = QUICK) =>
  runEdit([
    "--model",
    MODEL,
    "--requests",
    REQUESTS,
    "--n",
    "1",
    "--hparams",
    hp,
    "--out",
    out,
    ...FAST,
    ...extra,
  ]);

Deno.test({
  name: "--force never replaces a device node, a link or a folder this tool did not write",
  ...opts,
  fn: async () => {
    const link = join(TMP, "link");
    await Deno.mkdir(join(TMP, "elsewhere"));
    await Deno.symlink(join(TMP, "elsewhere"), link);
    for (
      const [out, re] of [
        ["/dev/null", /\/dev\/null is a device, socket or pipe/],
        [link, /is a symbolic link/],
        [TMP + "/model/..", /contains the input model folder/],
      ] as const
    ) {
      const r = await edit(out, ["--force"]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      FAULTS.add("--force onto devices, links, foreign folders", 1);
    }
    const st = await Deno.stat("/dev/null");
    assert.equal(st.isCharDevice, true, "/dev/null is still a device");
  },
});

Deno.test({
  name:
    "a live run's OUT.partial is locked against a second --force run; a dead run's lock is taken over",
  ...opts,
  fn: async () => {
    const out = join(TMP, "locked");
    const first = startEdit([
      "--model",
      MODEL,
      "--requests",
      REQUESTS,
      "--n",
      "2",
      "--hparams",
      SLOW,
      "--out",
      out,
      ...FAST,
    ]);
    await first.waitFor(/^#0 /);
    const pid = first.child.pid;
    assert.equal((await Deno.readTextFile(`${out}.lock`)).trim(), String(pid));
    const second = await edit(out, ["--force"], SLOW);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`another run \\(pid ${pid}\\) is writing`));
    assert.ok(await exists(join(`${out}.partial`, "records.jsonl")), "the live run's folder kept");
    first.child.kill("SIGKILL");
    await first.done;
    // The killed run left its lock; its process is gone, so a new run takes the lock over.
    assert.ok(await exists(`${out}.lock`));
    const third = await runEdit([
      "--model",
      MODEL,
      "--requests",
      REQUESTS,
      "--n",
      "2",
      "--hparams",
      SLOW,
      "--out",
      out,
      "--resume",
      ...FAST,
    ]);
    assert.equal(third.code, 0, third.stderr);
    assert.ok(await exists(join(out, "metrics.json")));
    assert.equal(await exists(`${out}.lock`), false, "released at exit");
    FAULTS.add("concurrent --force on a live run", 1);
    FAULTS.add("stale lock of a killed run", 1);
  },
});

/** Runs the edit CLI; a run still going after minutes (only a hang gets there) is killed. */
async function editOrHang(out: string): Promise<RunResult | "hung"> {
  const run = startEdit([
    "--model",
    MODEL,
    "--requests",
    REQUESTS,
    "--n",
    "1",
    "--hparams",
    QUICK,
    "--out",
    out,
    ...FAST,
  ]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<"hung">((r) => (timer = setTimeout(() => r("hung"), 180_000)));
  const first = await Promise.race([run.done, watchdog]);
  clearTimeout(timer);
  if (first === "hung") {
    run.child.kill("SIGKILL");
    await run.done;
  }
  return first;
}

Deno.test({
  name: "an OUT.lock this tool did not write (a user's file, a folder, a FIFO) is never removed",
  ...opts,
  fn: async () => {
    const cases: [string, (lock: string) => Promise<void>, RegExp][] = [
      [
        "a file without a pid",
        (lock) => Deno.writeTextFile(lock, "my notes\n"),
        /is a file that does not hold a process id, not a lock of this tool/,
      ],
      [
        "a folder",
        (lock) => Deno.mkdir(join(lock, "sub"), { recursive: true }),
        /is a folder, not a lock of this tool/,
      ],
      [
        "a FIFO (reading it blocked the run)",
        async (lock) => {
          assert.equal((await new Deno.Command("mkfifo", { args: [lock] }).output()).code, 0);
        },
        /is a device, socket or pipe, not a lock of this tool/,
      ],
    ];
    for (const [i, [what, make, re]] of cases.entries()) {
      const out = join(TMP, `foreign-lock-${i}`);
      await make(`${out}.lock`);
      const before = await Deno.lstat(`${out}.lock`);
      const r = await editOrHang(out);
      assert.notEqual(r, "hung", `${what}: the run hung`);
      if (r === "hung") continue;
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, re, what);
      assert.match(r.stderr, /it is never removed/, what);
      const after = await Deno.lstat(`${out}.lock`);
      assert.equal(after.ino, before.ino, `${what}: the lock path was replaced`);
      assert.equal(await exists(`${out}.partial`), false, what);
      FAULTS.add("foreign OUT.lock", 1);
    }
    assert.equal(await Deno.readTextFile(join(TMP, "foreign-lock-0.lock")), "my notes\n");
    // An empty lock (a run killed between creating it and writing its pid) is taken over.
    const out = join(TMP, "empty-lock");
    await Deno.writeTextFile(`${out}.lock`, "");
    const r = await editOrHang(out);
    assert.notEqual(r, "hung");
    if (r !== "hung") assert.equal(r.code, 0, r.stderr);
    assert.equal(await exists(`${out}.lock`), false, "released at exit");
    FAULTS.add("foreign OUT.lock", 1);
  },
});

Deno.test({
  name: "a FIFO or a device as a model, config or hyperparameter file is refused, not read",
  ...opts,
  fn: async () => {
    const cases: [string, string, RegExp][] = [];
    for (const file of ["model.safetensors", "config.json", "tokenizer.json"]) {
      for (const kind of ["fifo", "zero"]) {
        const dir = await copyModel("tiny-gpt2", join(TMP, `${kind}-${file}`));
        await Deno.remove(join(dir, file));
        if (kind === "fifo") {
          const r = await new Deno.Command("mkfifo", { args: [join(dir, file)] }).output();
          assert.equal(r.code, 0);
        } else await Deno.symlink("/dev/zero", join(dir, file));
        cases.push([`${kind} ${file}`, dir, new RegExp(`${file}.*not a regular file`)]);
      }
    }
    for (const [what, dir, re] of cases) {
      // A hang would time the test out; /dev/zero would grow until memory runs out.
      const r = await runEdit([
        "--model",
        dir,
        "--prompt",
        "The capital of France is",
        "--target",
        "Tokyo",
        "--out",
        join(TMP, "never"),
        ...FAST,
      ]);
      assert.equal(r.code, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, re, what);
      FAULTS.add("FIFO or device as a model file", 1);
    }
    const fifo = join(TMP, "hp.fifo");
    assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
    const r = await edit(join(TMP, "never"), ["--hparams", fifo]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot read .*hp\.fifo: not a regular file/);
    assert.equal(await exists(join(TMP, "never")), false);
    FAULTS.add("FIFO or device as a model file", 1);
  },
});

Deno.test({
  name: "raw OS and library messages become typed errors naming the file and field",
  ...opts,
  fn: async () => {
    // A path through a file (os error 20) and an unwritable place (the lock cannot be created).
    const file = join(TMP, "plain-file");
    await Deno.writeTextFile(file, "x");
    for (
      const [out, re] of [
        [join(file, "sub"), /cannot resolve .*plain-file\/sub: a part of the path is a file/],
        ["/proc/kne-never", /cannot write \/proc\/kne-never\.lock: no such file or folder/],
      ] as const
    ) {
      const r = await edit(out);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /os error|ENOENT|writefile|realpath/);
      FAULTS.add("raw OS errors", 1);
    }
    // The OS codes users meet, as Deno words them (17, 20, 30, 2).
    const raw: [string, RegExp][] = [
      [
        "File exists (os error 17): mkdir '/o/x.partial'",
        /^cannot create the folder \/o\/x\.partial: something already exists/,
      ],
      [
        "Not a directory (os error 20): realpath '/f/sub'",
        /^cannot resolve \/f\/sub: a part of the path is a file/,
      ],
      [
        "Read-only file system (os error 30): writefile '/ro/a.json'",
        /^cannot write \/ro\/a\.json: the file system is read-only/,
      ],
      [
        "No such file or directory (os error 2): rename '/a' -> '/b'",
        /^cannot rename \/a to \/b: no such file/,
      ],
    ];
    for (const [message, re] of raw) {
      const e = fsError(new Error(message));
      assert.ok(e instanceof FileSystemError, message);
      assert.match(e.message, re);
    }
    const other = new TypeError("not an OS error");
    assert.equal(fsError(other), other);
    // A BPE model without merges failed inside the library ("Cannot read properties of
    // undefined"); it is now refused naming the field.
    const bpe = join(TMP, "bpe");
    await Deno.mkdir(bpe);
    await Deno.writeTextFile(
      join(bpe, "tokenizer.json"),
      JSON.stringify({ model: { type: "BPE", vocab: { a: 0, b: 1 } } }),
    );
    await assert.rejects(
      () => loadTokenizer(bpe),
      (e: Error) => e instanceof TokenizerError && e.field === "model.merges",
    );
    await Deno.writeTextFile(
      join(bpe, "tokenizer.json"),
      JSON.stringify({ model: { type: "BPE", vocab: { a: 0 }, merges: ["a b", 7] } }),
    );
    await assert.rejects(
      () => loadTokenizer(bpe),
      (e: Error) => e instanceof TokenizerError && e.field === "model.merges[1]",
    );
    FAULTS.add("library TypeError from a BPE tokenizer", 2);
  },
});

Deno.test({
  name: "control characters are escaped in error lines; a blank prompt is blamed on --prompt",
  ...opts,
  fn: async () => {
    // NUL cannot travel in argv: the request comes from a file.
    const file = join(TMP, "control.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify([{
        subject: "France",
        prompt: "The\u0000 capital\u001b[31m of",
        target_new: "To\u0007kyo",
      }]),
    );
    const r = await runEdit([
      "--model",
      MODEL,
      "--requests",
      file,
      "--out",
      join(TMP, "never"),
      ...FAST,
    ]);
    assert.equal(r.code, 1, r.stderr);
    const line = r.stderr.split("\n").find((l) => l.startsWith("error:"))!;
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(line, /[\u0000-\u0008\u000b-\u001f\u007f]/);
    assert.match(line, /The\\u0000 capital\\u001b\[31m of/);
    assert.equal(printable("a\u0000b\nc\td\u009b"), "a\\u0000b\nc\td\\u009b");
    const blank = await runEdit([
      "--model",
      MODEL,
      "--prompt",
      " \t ",
      "--target",
      "Tokyo",
      "--out",
      join(TMP, "never"),
      ...FAST,
    ]);
    assert.equal(blank.code, 1, blank.stderr);
    assert.match(blank.stderr, /field prompt: expected a non-empty string/);
    assert.doesNotMatch(blank.stderr, /field subject/);
    assert.equal(await exists(join(TMP, "never")), false);
    FAULTS.add("control characters in messages", 1);
    FAULTS.add("blank prompt", 1);
  },
});
