// Every command stops on bad input the same way (src/cli/fail.ts): one `error:` line naming what
// is wrong, exit status 2 for a bad flag and 1 for a missing or unreadable input, no stack trace,
// control characters from a flag's value escaped (an ESC used to reach the terminal raw from
// trace, recall, train and card), and nothing written. trace, recall and make-base-requests
// used to end a missing model folder or request file with an uncaught stack trace; trace made its
// output folder before reading the requests; make-base-requests took `--test abc` as no requests
// and wrote empty files over the shipped ones; serve ended a port in use with a stack trace;
// edit and compare ran a mistyped --anchors file as no anchors, silently.

import assert from "node:assert/strict";
import { join } from "node:path";
import { FAULTS } from "./counts.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TINY = join(ROOT, "tests/fixtures/tiny-gpt2");
const ESC = "\u001b[31mX";

interface Case {
  script: string;
  args: string[];
  code: number;
  message: RegExp;
  /** Paths that must not exist afterwards. */
  absent?: string[];
}

async function run(c: Case): Promise<{ code: number; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts", c.script), ...c.args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

Deno.test("every command ends bad input with one escaped error line, no stack trace, nothing written", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kne-errors-" });
  const requestsDir = join(ROOT, "data/requests");
  const prefix = `zz-errors-${crypto.randomUUID().slice(0, 8)}`;
  const notJson = join(tmp, "not-json");
  await Deno.mkdir(notJson);
  await Deno.writeTextFile(join(notJson, "recall.json"), "{");
  const missing = join(tmp, "missing");
  // Requests with nothing to trace: no ground_truth (trace used to say the model knew none).
  const noAnswers = join(tmp, "no-answers.json");
  await Deno.writeTextFile(
    noAnswers,
    JSON.stringify([{ subject: "France", prompt: "The capital of France is", target_new: "Rome" }]),
  );
  // A model folder's tokenizer, and a tokenizer made earlier: make-tokenizer used to write over
  // both (a model's with any --out naming its folder, which broke the model).
  const modelCopy = join(tmp, "model-copy"), earlier = join(tmp, "earlier");
  for (const dir of [modelCopy, earlier]) {
    await Deno.mkdir(dir);
    await Deno.writeTextFile(join(dir, "tokenizer.json"), "kept");
  }
  await Deno.writeTextFile(join(modelCopy, "config.json"), "{}");
  await Deno.writeTextFile(join(modelCopy, "model.safetensors"), "");
  // A port another program holds (the page's build/web/ exists: `deno task test` builds it first).
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 }) as Deno.TcpListener;
  const cases: Case[] = [
    // A mistyped --anchors used to run the edit without anchors, saying nothing.
    {
      script: "edit.ts",
      args: ["--model", TINY, "--anchors", join(tmp, "none.json"), "--out", join(tmp, "e1")],
      code: 1,
      message: /--anchors .*none\.json: no such file \(the edit would run without anchors\)/,
      absent: [join(tmp, "e1"), join(tmp, "e1.partial")],
    },
    // A folder that is no model: its error alone (a note about its hyperparameters came first).
    {
      script: "edit.ts",
      args: ["--model", notJson, "--out", join(tmp, "e2")],
      code: 1,
      message: /^(?![^]*note:)[^]*not-json\/config\.json: cannot read: no such file/,
      absent: [join(tmp, "e2"), join(tmp, "e2.partial")],
    },
    {
      script: "compare.ts",
      args: ["--model", TINY, "--anchors", join(tmp, "none.json"), "--out", join(tmp, "c1")],
      code: 1,
      message: /--anchors .*none\.json: no such file/,
      absent: [join(tmp, "c1")],
    },
    {
      script: "trace.ts",
      args: ["--model", missing, "--prompt", "a b", "--subject", "a", "--out", join(tmp, "t1")],
      code: 1,
      message: /missing\/config\.json: cannot read/,
      absent: [join(tmp, "t1")],
    },
    {
      script: "trace.ts",
      args: ["--model", TINY, "--requests", join(tmp, "none.json"), "--out", join(tmp, "t2")],
      code: 1,
      message: /none\.json: cannot read/,
      absent: [join(tmp, "t2")],
    },
    {
      script: "trace.ts",
      args: ["--backend", ESC, "--prompt", "a", "--subject", "a", "--out", join(tmp, "t3")],
      code: 2,
      message: /--backend must be .*\\u001b\[31mX/,
      absent: [join(tmp, "t3")],
    },
    { script: "recall.ts", args: ["--model", missing], code: 1, message: /cannot read/ },
    {
      script: "recall.ts",
      args: ["--model", TINY, "--corpus", ESC],
      code: 2,
      message: /--corpus must be text or template, got "\\u001b\[31mX"/,
    },
    {
      script: "make-base-requests.ts",
      args: ["--model", missing, "--prefix", prefix],
      code: 1,
      message: /missing\/config\.json: cannot read/,
      absent: ["test", "dev", "anchors", "demo"].map((s) =>
        join(requestsDir, `${prefix}-${s}.json`)
      ),
    },
    {
      script: "make-base-requests.ts",
      args: ["--model", TINY, "--test", "abc", "--prefix", prefix],
      code: 2,
      message: /--test must be an integer >= 1, got "abc"/,
      absent: [join(requestsDir, `${prefix}-test.json`)],
    },
    {
      script: "make-base-requests.ts",
      args: ["--prefix", "../x", "--model", missing],
      code: 2,
      message: /--prefix must be letters, digits and -/,
    },
    {
      script: "train.ts",
      args: ["--preset", ESC, "--out", join(tmp, "m")],
      code: 2,
      message: /--preset must be one of .*\\u001b\[31mX/,
      absent: [join(tmp, "m"), join(tmp, "m.partial")],
    },
    {
      script: "card.ts",
      args: ["--model", missing],
      code: 1,
      message: /cannot read .*recall\.json/,
    },
    {
      script: "card.ts",
      args: ["--model", notJson],
      code: 1,
      message: /not-json\/recall\.json: not JSON/,
      absent: [join(notJson, "README.md")],
    },
    {
      script: "make-tokenizer.ts",
      args: ["--out", join(tmp, "not-json/recall.json/tok"), "--vocab", "300"],
      code: 1,
      message: /cannot create the folder .*a part of the path is a file/,
    },
    {
      script: "trace.ts",
      args: ["--model", TINY, "--prompt", "a b", "--subject", "a", "--answer", " "],
      code: 2,
      message: /--answer must not be empty/,
    },
    {
      script: "trace.ts",
      args: ["--model", TINY, "--requests", noAnswers, "--out", join(tmp, "t-noanswers")],
      code: 1,
      message: /1 request\(s\) without ground_truth skipped[^]*none of the requests has a ground/,
    },
    {
      script: "recall.ts",
      args: ["--model", TINY, "--json", join(TINY, "r.json")],
      code: 2,
      message: /--json .*r\.json lies inside the model folder/,
      absent: [join(TINY, "r.json")],
    },
    {
      script: "recall.ts",
      args: ["--model", TINY, "--json", join(notJson, "recall.json")],
      code: 2,
      message: /recall\.json exists; pass --force to replace it/,
    },
    {
      script: "patch.ts",
      args: [
        "apply",
        "--patch",
        join(tmp, "p.safetensors"),
        "--model",
        missing,
        "--out",
        join(tmp, "p"),
      ],
      code: 1,
      message: /--model .*missing: no such folder/,
      absent: [join(tmp, "p")],
    },
    {
      script: "train.ts",
      args: ["--out", join(tmp, "never-trained"), "--resume"],
      code: 1,
      message: /cannot resume: no checkpoint at .*never-trained\.checkpoint/,
      absent: [join(tmp, "never-trained.partial")],
    },
    // A finished run removed its checkpoint: continuing it needed --keep-checkpoint.
    {
      script: "train.ts",
      args: ["--out", modelCopy, "--resume", "--epochs", "2"],
      code: 1,
      message:
        /no checkpoint at .*model-copy\.checkpoint \(the run at .* finished and removed it; only a run trained with --keep-checkpoint can be continued\)/,
      absent: [join(tmp, "model-copy.partial")],
    },
    {
      script: "make-tokenizer.ts",
      args: ["--out", modelCopy, "--vocab", "300", "--force"],
      code: 1,
      message: /holds a model \(config\.json\); a model's tokenizer is never replaced/,
    },
    // Nor below a model folder: a run's OUT.partial, checkpoint and lock would lie among its files.
    {
      script: "make-tokenizer.ts",
      args: ["--out", join(modelCopy, "tok"), "--vocab", "300"],
      code: 1,
      message: /--out .*model-copy\/tok lies inside the model folder .*model-copy;/,
      absent: [join(modelCopy, "tok")],
    },
    {
      script: "train.ts",
      args: ["--out", join(modelCopy, "sub")],
      code: 2,
      message: /--out .*model-copy\/sub lies inside the model folder .*model-copy;/,
      absent: ["sub.partial", "sub.checkpoint", "sub.lock"].map((f) => join(modelCopy, f)),
    },
    {
      script: "make-tokenizer.ts",
      args: ["--out", earlier, "--vocab", "300"],
      code: 1,
      message: /earlier\/tokenizer\.json exists; pass --force to replace it/,
    },
    // An empty --model is said so (it used to read config.json in the working folder).
    ...["trace.ts", "recall.ts", "make-base-requests.ts"].map((script) => ({
      script,
      args: [
        "--model",
        "",
        ...(script === "trace.ts" ? ["--prompt", "a b", "--subject", "a"] : []),
      ],
      code: 2,
      message: /^error: --model must not be empty/m,
    })),
    {
      script: "edit.ts",
      args: ["--model", missing],
      code: 1,
      message: /--model .*missing: no such folder/,
    },
    {
      script: "compare.ts",
      args: ["--backend", ESC, "--model", TINY],
      code: 2,
      message: /--backend must be .*\\u001b\[31mX/,
    },
    { script: "serve.ts", args: ["--prot", "1"], code: 2, message: /Unknown option '--prot'/ },
    {
      script: "serve.ts",
      args: ["--port", "99999"],
      code: 2,
      message: /--port must be an integer in \[0, 65535\], got "99999"/,
    },
    {
      script: "serve.ts",
      args: ["--port", String(busy.addr.port)],
      code: 1,
      message: new RegExp(`port ${busy.addr.port} is in use`),
    },
  ];
  try {
    const results = await Promise.all(cases.map(run));
    cases.forEach((c, i) => {
      const what = `${c.script} ${c.args.join(" ")}`;
      const { code, stderr } = results[i];
      assert.equal(code, c.code, `${what}: exit ${code}\n${stderr}`);
      assert.match(stderr, /^error: /m, what);
      assert.match(stderr, c.message, `${what}:\n${stderr}`);
      assert.doesNotMatch(stderr, /\n\s+at /, `${what}: a stack trace\n${stderr}`);
      assert.ok(!stderr.includes("\u001b"), `${what}: a raw ESC reached the terminal`);
    });
    for (const c of cases) {
      for (const p of c.absent ?? []) {
        assert.ok(!(await Deno.stat(p).then(() => true, () => false)), `${c.script} wrote ${p}`);
      }
    }
    for (const dir of [modelCopy, earlier]) {
      assert.equal(await Deno.readTextFile(join(dir, "tokenizer.json")), "kept", dir);
    }
    FAULTS.add("bad inputs to every command", cases.length);
  } finally {
    busy.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
