// `deno task trace` as a user runs it (scripts/trace.ts in a subprocess): one prompt on the tiny
// fixture writes trace.json (the same trace as src/trace gives in-process, also on stdout with
// --json) and the three heatmaps; a request file on models/kne-facts writes the averages, their
// chart and each known fact's heatmaps; bad arguments and a subject missing from the prompt
// fail with a message, not a stack trace; --out follows the output rules of every command; an
// answer of several tokens is labelled by the one token traced; --requests names the records it
// skips for a subject not in the prompt; Ctrl-C leaves no lock and no incomplete output; white
// space ending the prompt or subject is removed, with a note; --corrupt-at layer0 traces as
// src/trace does with the noise after layer 0, and says so in the charts' titles.

import assert from "node:assert/strict";
import { join } from "node:path";
import { createBackend } from "../../engine/select.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { traceFact } from "../../src/trace/causal-trace.ts";
import { POSITION_GROUPS } from "../../src/trace/positions.ts";
import { exists } from "../../src/io/files.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TINY = join(ROOT, "tests/fixtures/tiny-gpt2");

async function trace(args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts/trace.ts"), "--backend", "wasm", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

Deno.test("trace CLI: one prompt writes trace.json and three heatmaps", async () => {
  const tmp = await Deno.makeTempDir();
  const out = join(tmp, "out");
  try {
    const r = await trace([
      ...["--model", TINY, "--prompt", "The capital of France is", "--subject", "France"],
      ...["--samples", "2", "--seed", "4", "--json", "--out", out],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const written = JSON.parse(await Deno.readTextFile(join(out, "trace.json")));
    assert.deepEqual(JSON.parse(r.stdout), written);
    for (const k of ["resid", "mlp_out", "attn_out"]) {
      assert.match(await Deno.readTextFile(join(out, `${k}.svg`)), /^<svg[^]*<\/svg>\s*$/);
    }
    const be = await createBackend("wasm");
    try {
      const { model, tokenizer } = await loadModel(TINY, be, { tokenizer: true });
      const want = await traceFact(model, tokenizer!, {
        prompt: "The capital of France is",
        subject: "France",
      }, { samples: 2, noise: 3, seed: 4 });
      assert.deepEqual(written, JSON.parse(JSON.stringify(want)));
    } finally {
      be.dispose();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("trace CLI: white space ending --prompt and --subject is removed, with a note", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const run = (prompt: string, subject: string, dir: string) =>
      trace([
        ...["--model", TINY, "--prompt", prompt, "--subject", subject],
        ...["--samples", "2", "--seed", "4", "--out", join(tmp, dir)],
      ]);
    const spaced = await run("The capital of France is ", "France ", "spaced");
    assert.equal(spaced.code, 0, spaced.stderr);
    assert.match(
      spaced.stderr,
      /note: white space at the end of --prompt "The capital of France is "/,
    );
    assert.match(spaced.stderr, /note: white space at the end of --subject "France "/);
    const plain = await run("The capital of France is", "France", "plain");
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stderr, /note: white space/);
    const read = (dir: string) => Deno.readTextFile(join(tmp, dir, "trace.json"));
    assert.deepEqual(JSON.parse(await read("spaced")), JSON.parse(await read("plain")));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("trace CLI: a request file averages known facts and keeps each fact's heatmaps", async () => {
  const tmp = await Deno.makeTempDir();
  const out = join(tmp, "out");
  try {
    const r = await trace([
      ...["--model", join(ROOT, "models/kne-facts")],
      ...["--requests", join(ROOT, "data/requests/dev.json"), "--n", "2", "--samples", "2"],
      ...["--out", out],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /MLP output +at the last subject token: (-?\d\.\d{3} ){4}\(peak/);
    const avg = JSON.parse(await Deno.readTextFile(join(out, "average.json")));
    assert.equal(avg.facts, 2);
    assert.equal(avg.traces.length, 2);
    assert.ok(avg.traces.every((t: { known: boolean }) => t.known));
    assert.deepEqual(Object.keys(avg.byGroup.mlp_out), [...POSITION_GROUPS]);
    assert.equal(avg.byGroup.mlp_out["last subject token"].length, 4);
    // The clean runs' norms, averaged as the effects are: the two facts' own, by hand.
    type Tr = { subject: [number, number]; norms: { resid: number[][] }; embedNorms: number[] };
    const last = (tr: Tr) => tr.subject[1] - 1;
    const [a, b] = avg.traces as Tr[];
    const want = a.norms.resid[last(a)].map((x, l) => (x + b.norms.resid[last(b)][l]) / 2);
    const got: number[] = avg.norms.byGroup.resid["last subject token"];
    got.forEach((x, l) => assert.ok(Math.abs(x - want[l]) < 1e-9, `layer ${l}`));
    const embed = (a.embedNorms[last(a)] + b.embedNorms[last(b)]) / 2;
    assert.ok(Math.abs(avg.norms.embedLastSubject - embed) < 1e-9);
    assert.match(r.stdout, /norms at the last subject token \(clean\): token embedding \d/);
    for (const f of ["average.svg", "average-mlp_out.svg", "facts/001-resid.svg"]) {
      assert.ok(await exists(join(out, f)), f);
    }
    assert.ok(await exists(join(out, "facts/002-attn_out.svg")));
    assert.ok(!(await exists(join(out, "facts/003-attn_out.svg"))));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("trace CLI: --corrupt-at layer0 traces with the noise after layer 0", async () => {
  const tmp = await Deno.makeTempDir();
  const out = join(tmp, "out");
  try {
    const fact = { prompt: "The capital of France is", subject: "France" };
    const r = await trace([
      ...["--model", TINY, "--prompt", fact.prompt, "--subject", fact.subject],
      ...["--samples", "2", "--seed", "4", "--corrupt-at", "layer0", "--out", out],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const written = JSON.parse(await Deno.readTextFile(join(out, "trace.json")));
    assert.match(
      await Deno.readTextFile(join(out, "mlp_out.svg")),
      /subject corrupted after layer 0/,
    );
    const be = await createBackend("wasm");
    try {
      const { model, tokenizer } = await loadModel(TINY, be, { tokenizer: true });
      const opts = { samples: 2, noise: 3, seed: 4 };
      const want = await traceFact(model, tokenizer!, fact, { ...opts, corruptAt: "layer0" });
      assert.deepEqual(written, JSON.parse(JSON.stringify(want)));
      const embed = await traceFact(model, tokenizer!, fact, opts);
      assert.notEqual(written.pCorrupted, embed.pCorrupted);
    } finally {
      be.dispose();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("trace CLI: bad arguments and a missing subject fail with a message", async () => {
  const tmp = await Deno.makeTempDir();
  const out = join(tmp, "out");
  try {
    const base = ["--model", TINY, "--out", out, "--samples", "1"];
    const noise = await trace([...base, "--prompt", "a b", "--subject", "a", "--noise", "0"]);
    assert.equal(noise.code, 2);
    assert.match(noise.stderr, /--noise must be a positive finite number/);
    const inf = await trace([...base, "--prompt", "a b", "--subject", "a", "--noise", "Infinity"]);
    assert.equal(inf.code, 2);
    assert.match(inf.stderr, /--noise must be a positive finite number/);
    for (
      const [flags, re] of [
        [["--prompt", "  ", "--subject", "a"], /--prompt must not be empty/],
        [["--prompt", "", "--subject", "a"], /--prompt must not be empty/],
        [["--prompt", "a b", "--subject", " "], /--subject must not be empty/],
        [["--prompt", "a b", "--subject", "a", "--samples", "1e1"], /--samples must be an integer/],
        [["--requests", "r.json", "--subject", "a"], /--subject and --answer go with --prompt/],
        [
          ["--prompt", "a b", "--subject", "a", "--corrupt-at", "mlp"],
          /--corrupt-at.*embed, layer0/,
        ],
      ] as const
    ) {
      const r = await trace([...base, ...flags]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
    }
    const window = await trace([...base, "--prompt", "a b", "--subject", "a", "--window", "0"]);
    assert.equal(window.code, 2);
    assert.match(window.stderr, /--window must be an integer >= 1/);
    const noSubject = await trace([...base, "--prompt", "The capital of France is"]);
    assert.equal(noSubject.code, 2);
    assert.match(noSubject.stderr, /--prompt needs --subject/);
    const missing = await trace([
      ...base,
      ...["--prompt", "The capital of France is", "--subject", "Spain"],
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not contain the subject "Spain"/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
    // A prompt past the context (32 tokens) and a window wider than the model: refused, where
    // the trace used to read past GPT-2's position table silently.
    const long = await trace([
      ...base,
      ...["--prompt", `${"The capital of France is Paris . ".repeat(6)}The capital of Spain is`],
      ...["--subject", "Spain"],
    ]);
    assert.equal(long.code, 1, long.stderr);
    assert.match(
      long.stderr,
      /^error: the prompt is \d+ tokens, longer than the model's context of/m,
    );
    const wide = await trace([
      ...base,
      ...["--prompt", "The capital of France is", "--subject", "France", "--window", "99"],
    ]);
    assert.equal(wide.code, 1, wide.stderr);
    assert.match(wide.stderr, /the window of 99 layers is wider than the model's/);
    // An empty request file is said so. None of these failures leaves an output folder.
    const empty = join(tmp, "empty.json");
    await Deno.writeTextFile(empty, "[]");
    const none = await trace([...base, "--requests", empty]);
    assert.equal(none.code, 1, none.stderr);
    assert.match(none.stderr, /^error: .*empty\.json: no requests$/m);
    assert.equal(await exists(out), false);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("trace CLI: --out follows the output rules (model folder, user's folder, --force)", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const model = join(tmp, "model");
    await Deno.mkdir(model);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) {
      await Deno.copyFile(join(TINY, f), join(model, f));
    }
    const run = (out: string, ...more: string[]) =>
      trace([
        ...["--model", model, "--prompt", "The capital of France is", "--subject", "France"],
        ...["--samples", "1", "--out", out, ...more],
      ]);
    for (const out of [model, join(model, "trace"), tmp]) {
      const r = await run(out, "--force");
      assert.equal(r.code, 1, `${out}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /m);
    }
    assert.deepEqual(
      [...Deno.readDirSync(model)].map((e) => e.name).sort(),
      ["config.json", "model.safetensors", "tokenizer.json"],
    );
    const mine = join(tmp, "mine");
    await Deno.mkdir(mine);
    await Deno.writeTextFile(join(mine, "notes.txt"), "keep");
    const user = await run(mine, "--force");
    assert.equal(user.code, 1, user.stderr);
    assert.equal(await Deno.readTextFile(join(mine, "notes.txt")), "keep");
    const out = join(tmp, "out");
    assert.equal((await run(out)).code, 0);
    const again = await run(out);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists; choose another --out or pass --force/);
    const forced = await run(out, "--force");
    assert.equal(forced.code, 0, forced.stderr);
    assert.ok(await exists(join(out, "trace.json")));
    assert.ok(!(await exists(`${out}.lock`)));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("trace CLI: an answer of several tokens is labelled by the token traced", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    // It printed p("Paris Madrid"), the probability of "Paris" alone (its first token).
    const r = await trace([
      ...["--model", TINY, "--prompt", "The capital of France is", "--subject", "France"],
      ...["--answer", "Paris Madrid", "--samples", "1", "--out", join(tmp, "out")],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^p\("Paris", the first token of "Paris Madrid"\) clean /);
    assert.match(
      await Deno.readTextFile(join(tmp, "out", "mlp_out.svg")),
      /on p\(&quot;Paris&quot;, the first token of &quot;Paris Madrid&quot;\)/,
    );
    // A one-token answer keeps its plain label.
    const one = await trace([
      ...["--model", TINY, "--prompt", "The capital of France is", "--subject", "France"],
      ...["--answer", "Paris", "--samples", "1", "--out", join(tmp, "one")],
    ]);
    assert.match(one.stdout, /^p\("Paris"\) clean /);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("trace CLI: --requests says which records it skipped for a subject not in the prompt", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    // Six records whose prompt lacks the subject, then one the tiny model answers ("old"): the
    // six were skipped without a word.
    const other = ["Spain", "Peru", "Chile", "Kenya", "Japan", "Italy"].map((subject) => ({
      subject,
      prompt: "The capital of France is",
      target_new: "Rome",
      ground_truth: "old",
    }));
    const file = join(tmp, "requests.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify([
        ...other,
        {
          subject: "France",
          prompt: "The capital of France is",
          target_new: "Rome",
          ground_truth: "old",
        },
      ]),
    );
    const r = await trace([
      ...["--model", TINY, "--requests", file, "--samples", "1", "--out", join(tmp, "out")],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^1 known facts traced \(1 tried\)$/m);
    const note = r.stderr.split("\n").find((l) => l.startsWith("6 request(s) whose prompt")) ?? "";
    assert.match(note, /does not contain their subject skipped .*: #0, #1, #2, #3, #4, \.\.\.$/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("trace CLI: Ctrl-C removes the lock and any incomplete output, says so, exits 130", async () => {
  const tmp = await Deno.makeTempDir();
  const out = join(tmp, "out");
  const has = (p: string) => Deno.lstat(p).then(() => true, () => false);
  try {
    // A real SIGINT while it traces (its lock taken): it exited 130 without a word and left
    // OUT.lock until the next run.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-A", join(ROOT, "scripts/trace.ts"), "--backend", "wasm"],
        ...["--model", join(ROOT, "models/kne-facts")],
        ...["--requests", join(ROOT, "data/requests/dev.json"), "--n", "50", "--out", out],
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    while (!(await has(`${out}.lock`))) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGINT");
    const r = await child.output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 130, err);
    assert.match(err, /^interrupted: trace; .*out was not written$/m);
    assert.equal(await has(`${out}.lock`), false, "OUT.lock left");
    assert.equal(await has(out), false);
    // Stopped while writing its files (a Ctrl-C sent at that stage): the incomplete OUT goes.
    const writing = await new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-A", join(ROOT, "scripts/trace.ts"), "--backend", "wasm", "--model", TINY],
        ...["--prompt", "The capital of France is", "--subject", "France", "--samples", "1"],
        ...["--out", out],
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", KNE_FAULT_SIGINT_AT: "write" },
    }).output();
    const werr = new TextDecoder().decode(writing.stderr);
    assert.equal(writing.code, 130, werr);
    assert.match(werr, /^interrupted: trace; the incomplete .*out was removed$/m);
    assert.equal(await has(`${out}.lock`), false, "OUT.lock left");
    assert.equal(await has(out), false, "an incomplete OUT left");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
