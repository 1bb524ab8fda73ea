// scripts/compare.ts end to end on the tiny oracle GPT-2 with two requests and all six methods:
// every method runs into OUT/<method>/, and OUT/comparison.md, comparison.json and
// comparison.svg are written with one column / entry / bar series per method (KnowEdit and
// CounterFact rows in the table, their means in the JSON); bad arguments exit 2
// with a message before any method runs. An interrupted or killed comparison leaves no table at
// the final names (an interrupted one's is comparison.interrupted.*, saying so), a rerun without
// --resume is told to pass it, and --resume finishes the comparison; --force drops the folders of
// methods not in the new run (only its own), and a failed method's row names the folder it left
// and shows no time (not 0 ms).
// An --n beyond the requests file gets the edit command's note; a request whose target the model
// already answers is noted once.

import { assert } from "../helpers/tiny.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const METHODS = ["kne", "ft-l", "ft-m", "kn", "rome", "memit"];

Deno.test({
  name: "compare.ts runs six methods on two requests and writes the table, JSON and chart",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "kne-compare-" });
    const hp = `${out}/hparams`;
    await Deno.mkdir(hp);
    // Quick settings for the tiny model (methods without a file use their defaults).
    await Deno.writeTextFile(`${hp}/kne.json`, JSON.stringify({ steps: 20, lr: 0.02 }));
    await Deno.writeTextFile(`${hp}/memit.json`, JSON.stringify({ vSteps: 10 }));
    try {
      const cmd = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "scripts/compare.ts",
          "--model",
          "tests/fixtures/tiny-gpt2",
          "--requests",
          "tests/fixtures/requests-tiny.json",
          "--n",
          "2",
          "--methods",
          METHODS.join(","),
          "--backend",
          "wasm",
          "--hparams-dir",
          hp,
          "--out",
          `${out}/run`,
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1", KNE_CACHE_DIR: `${out}/cache` },
      });
      const r = await cmd.output();
      const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      assert(r.code === 0, `compare.ts exited ${r.code}:\n${text}`);
      const md = await Deno.readTextFile(`${out}/run/comparison.md`);
      assert(
        md.includes("| Metric | KNE | FT-L | FT-M | KN | ROME | MEMIT |"),
        `table header missing:\n${md}`,
      );
      for (
        const row of [
          "Edit Succ.",
          "Generalization",
          "Locality",
          "Efficacy (CF)",
          "Paraphrase (CF)",
          "Neighborhood (CF)",
          "Score (CF)",
          "Params changed",
          "ms / edit",
        ]
      ) {
        assert(md.includes(`| ${row} |`), `row ${row} missing`);
      }
      const json = JSON.parse(await Deno.readTextFile(`${out}/run/comparison.json`));
      assert(json.n === 2, "n");
      assert(
        json.methods.map((m: { method: string }) => m.method).join() === METHODS.join(),
        "methods",
      );
      for (const m of json.methods) {
        assert(m.summary && m.records === 2, `${m.method} has no summary for 2 records`);
        assert(typeof m.summary.editSucc === "number", `${m.method}: no edit succ`);
        for (const k of ["efficacy", "paraphrase", "neighborhood", "cfScore"]) {
          const v = m.summary[k];
          assert(typeof v === "number" && v >= 0 && v <= 100, `${m.method}: ${k} ${v}`);
        }
        assert(m.paramsChanged > 0, `${m.method} changed nothing`);
        // The 95% bootstrap interval of each metric contains its mean, and the table shows it.
        const [lo, hi] = m.ci95.editSucc;
        assert(lo <= m.summary.editSucc && m.summary.editSucc <= hi, `${m.method}: ci ${lo} ${hi}`);
      }
      const kne = json.methods[0];
      const [lo, hi] = kne.ci95.editSucc as [number, number];
      assert(
        md.includes(`${kne.summary.editSucc.toFixed(2)} [${lo.toFixed(1)}, ${hi.toFixed(1)}]`),
        `Edit Succ. cell with its interval missing:\n${md}`,
      );
      const svg = await Deno.readTextFile(`${out}/run/comparison.svg`);
      assert(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"), "not an SVG");
      for (const label of ["KNE", "FT-L", "ROME", "MEMIT", "Edit Succ."]) {
        assert(svg.includes(label), `SVG lacks ${label}`);
      }
      for (const m of METHODS) {
        const st = await Deno.stat(`${out}/run/${m}/metrics.json`);
        assert(st.isFile, `${m}/metrics.json missing`);
      }
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("compare.ts refuses bad arguments (exit 2) and a folder that is not a model (exit 1), writing nothing", async () => {
  const out = await Deno.makeTempDir({ prefix: "kne-compare-bad-" });
  // A folder without config.json, beside OUT (an OUT inside the model folder is refused first).
  const noModel = await Deno.makeTempDir({ prefix: "kne-compare-nomodel-" });
  // The edit command's tokenizer guards hold here too: a pattern that could backtrack is refused
  // before any weight is read (compare used to load such a tokenizer unchecked).
  const redos = await Deno.makeTempDir({ prefix: "kne-compare-redos-" });
  for (const f of ["config.json", "model.safetensors"]) {
    await Deno.copyFile(`${ROOT}models/kne-facts/${f}`, `${redos}/${f}`);
  }
  const tok = JSON.parse(await Deno.readTextFile(`${ROOT}models/kne-facts/tokenizer.json`));
  tok.normalizer = { type: "Replace", pattern: { Regex: "(a+)+$" }, content: "b" };
  await Deno.writeTextFile(`${redos}/tokenizer.json`, JSON.stringify(tok));
  try {
    const cases: [string[], RegExp, number][] = [
      [["--n", "abc"], /--n must be a positive integer/, 2],
      [["--n", "1e2"], /--n must be a positive integer/, 2],
      [["--seed", "1e3"], /--seed must be an integer/, 2],
      [["--methods", "kne,sgd"], /--methods must be one of/, 2],
      [["--methods", "kne,kne"], /names a method twice/, 2],
      [["--hparams-dir", `${out}/missing`], /--hparams-dir .*missing: no such folder/, 2],
      // A missing model is a missing input (exit 1), as in the edit and patch commands.
      [["--model", `${out}/nope`], /nope: no such folder/, 1],
      [["--cov-texts", `${out}/missing.txt`], /--cov-texts .*: no such file/, 2],
      [["--bogus"], /unknown option/i, 2],
      [["--model", noModel], /config\.json: cannot read/, 1],
      [
        ["--model", redos, "--n", "1"],
        /normalizer\.pattern\.Regex\]: pattern "\(a\+\)\+\$": it repeats/,
        1,
      ],
    ];
    for (const [args, re, code] of cases) {
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "scripts/compare.ts", ...args, "--out", `${out}/run`],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const text = new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout);
      assert(r.code === code, `${args.join(" ")}: exit ${r.code}, want ${code}:\n${text}`);
      assert(re.test(text), `${args.join(" ")}: message ${JSON.stringify(text)} lacks ${re}`);
    }
    // --resume continues the comparison in --out: without one it has nothing to continue.
    const noOut = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/compare.ts", "--resume"],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
    }).output();
    const noOutText = new TextDecoder().decode(noOut.stderr);
    assert(noOut.code === 2 && /--resume needs --out/.test(noOutText), noOutText);
    const left = [...Deno.readDirSync(out)].map((e) => e.name);
    assert(left.length === 0, `outputs were written: ${left.join(", ")}`);
  } finally {
    await Deno.remove(out, { recursive: true });
    await Deno.remove(noModel, { recursive: true });
    await Deno.remove(redos, { recursive: true });
  }
});

Deno.test({
  name: "compare.ts --n beyond the requests file says so, as the edit command does",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "kne-compare-n-" });
    try {
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-A", "scripts/compare.ts", "--model", "tests/fixtures/tiny-gpt2"],
          ...["--requests", "tests/fixtures/requests-tiny.json", "--n", "10", "--methods", "ft-m"],
          ...["--no-fluency", "--backend", "wasm", "--out", `${out}/run`],
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
      }).output();
      const err = new TextDecoder().decode(r.stderr);
      assert(r.code === 0, `compare.ts exited ${r.code}:\n${err}`);
      assert(
        /^note: --n 10: tests\/fixtures\/requests-tiny\.json holds 2; all are edited$/m.test(err),
        err,
      );
      const json = JSON.parse(await Deno.readTextFile(`${out}/run/comparison.json`));
      assert(json.n === 2, `n ${json.n}`);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name: "compare.ts notes once a request whose target the model already answers",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "kne-compare-already-" });
    // The tiny model answers "old" here: every method edited it with no word.
    const requests = `${out}/already.json`;
    await Deno.writeTextFile(
      requests,
      JSON.stringify([
        { subject: "France", prompt: "The capital of France is", target_new: "old" },
      ]),
    );
    try {
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-A", "scripts/compare.ts", "--model", "tests/fixtures/tiny-gpt2"],
          ...["--requests", requests, "--methods", "ft-m,kn", "--no-fluency"],
          ...["--backend", "wasm", "--out", `${out}/run`],
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
      }).output();
      const err = new TextDecoder().decode(r.stderr);
      assert(r.code === 0, `compare.ts exited ${r.code}:\n${err}`);
      const notes = err.split("\n").filter((l) => l.startsWith("note: #0: the model already"));
      assert(notes.length === 1, err);
      assert(notes[0].includes("(Edit Succ. before is already 100 for this record)"), err);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name: "compare.ts --resume reuses a finished method only when it ran with the same inputs",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "kne-compare-resume-" });
    const compare = async (requests: string, ...extra: string[]) => {
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-A", "scripts/compare.ts", "--model", "tests/fixtures/tiny-gpt2"],
          ...["--requests", requests, "--n", "2", "--methods", "ft-m,kn", "--no-fluency"],
          ...["--backend", "wasm", "--out", `${out}/run`, ...extra],
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
      }).output();
      const err = new TextDecoder().decode(r.stderr);
      assert(r.code === 0, `compare.ts exited ${r.code}:\n${err}`);
      return err;
    };
    try {
      await compare("tests/fixtures/requests-tiny.json");
      const again = await compare("tests/fixtures/requests-tiny.json", "--resume");
      assert((again.match(/done earlier/g) ?? []).length === 2, again);
      // Two other requests, same count, model and settings: both methods run again.
      const other = await compare("tests/fixtures/reliability-requests.json", "--resume");
      assert(!/done earlier/.test(other), other);
      assert(
        (other.match(/made with other settings or inputs: run again/g) ?? []).length === 2,
        other,
      );
      const json = JSON.parse(await Deno.readTextFile(`${out}/run/comparison.json`));
      assert(JSON.stringify(json).includes("reliability-requests.json"), "requests not recorded");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "an interrupted or killed compare leaves no table at the final names; a rerun is told --resume",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "kne-compare-int-" });
    const compare = async (
      run: string,
      methods: string,
      extra: string[] = [],
      env: Record<string, string> = {},
    ) => {
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-A", "scripts/compare.ts", "--model", "tests/fixtures/tiny-gpt2"],
          ...["--requests", "tests/fixtures/requests-tiny.json", "--n", "2", "--no-fluency"],
          ...["--methods", methods, "--backend", "wasm", "--out", run, ...extra],
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1", ...env },
      }).output();
      const [out, err] = [r.stdout, r.stderr].map((b) => new TextDecoder().decode(b));
      return { code: r.code, signal: r.signal, out, err };
    };
    const has = (p: string) => Deno.lstat(p).then(() => true, () => false);
    const FINAL = ["comparison.md", "comparison.json", "comparison.svg"];
    const CUT = FINAL.map((f) => f.replace("comparison.", "comparison.interrupted."));
    /** A rerun without --resume or --force: refused (one error line), pointing to --resume. */
    const refusedWithHint = async (run: string) => {
      const r = await compare(run, "ft-m,kn");
      assert(r.code === 2, `rerun exited ${r.code}:\n${r.err}`);
      assert(
        /^error: .* holds an interrupted comparison; pass --resume to continue it/.test(r.err) &&
          r.err.trim().split("\n").length === 1,
        r.err,
      );
    };
    /** --resume finishes it: FT-M is read back, the table has both methods at its final names. */
    const resumes = async (run: string) => {
      const r = await compare(run, "ft-m,kn", ["--resume"]);
      assert(r.code === 0, `--resume exited ${r.code}:\n${r.err}`);
      assert(/\[ft-m\] done earlier/.test(r.err), r.err);
      const md = await Deno.readTextFile(`${run}/comparison.md`);
      assert(md.startsWith("# Editing methods") && md.includes("| Metric | FT-M | KN |"), md);
      const json = JSON.parse(await Deno.readTextFile(`${run}/comparison.json`));
      assert(json.interrupted === false && json.methods.length === 2, "comparison.json");
      for (const f of CUT) assert(!(await has(`${run}/${f}`)), `${f} left by the resumed run`);
    };
    try {
      // Stopped as by a Ctrl-C after the third record (FT-M's two and KN's first).
      const run = `${out}/run`;
      const cut = await compare(run, "ft-m,kn", [], { KNE_FAULT_INTERRUPT_AFTER: "3" });
      assert(cut.code === 130, `interrupted run exited ${cut.code}:\n${cut.err}`);
      // It used to write comparison.md and .svg with FT-M alone, at their final names.
      for (const f of FINAL) assert(!(await has(`${run}/${f}`)), `${f} of an interrupted run`);
      const md = await Deno.readTextFile(`${run}/comparison.interrupted.md`);
      assert(
        md.startsWith("INTERRUPTED: 1 of 2 methods; rerun the same command with --resume") &&
          md.includes("| Metric | FT-M |"),
        md,
      );
      const svg = await Deno.readTextFile(`${run}/comparison.interrupted.svg`);
      assert(svg.includes("INTERRUPTED (1 of 2 methods)"), "the chart does not say so");
      const json = JSON.parse(await Deno.readTextFile(`${run}/comparison.interrupted.json`));
      assert(json.interrupted === true && json.methods.length === 1, "comparison.interrupted");
      assert(await has(`${run}/kn.partial`) && !(await has(`${run}/kn`)), "kn's records");
      await refusedWithHint(run);
      // --resume with another seed: KN's records cannot be continued, which used to be found only
      // after FT-M had been run again with it (its results replaced) and then KN failed.
      const ftm = await Deno.readTextFile(`${run}/ft-m/metrics.json`);
      const other = await compare(run, "ft-m,kn", [
        ...["--resume", "--seed", "7"],
      ]);
      assert(other.code === 2, `a resume with another seed exited ${other.code}:\n${other.err}`);
      assert(
        /^error: cannot resume .*kn\.partial: it was started with .*seed/m.test(other.err) &&
          !/\[ft-m\]/.test(other.err),
        other.err,
      );
      assert(ftm === await Deno.readTextFile(`${run}/ft-m/metrics.json`), "FT-M was run again");
      await resumes(run);

      // --force with other methods: the folder of KN, not in the new run, goes; a folder of the
      // user's named after a method stays. FT-L fails (a layer the model lacks): its row names
      // the folder it left, not OUT/ft-l (which does not exist).
      await Deno.mkdir(`${run}/rome`);
      await Deno.writeTextFile(`${run}/rome/notes.txt`, "mine");
      const hp = `${out}/hparams`;
      await Deno.mkdir(hp);
      await Deno.writeTextFile(`${hp}/ft-l.json`, JSON.stringify({ layer: 5 }));
      const forced = await compare(run, "ft-m,ft-l", ["--force", "--hparams-dir", hp]);
      assert(
        forced.code === 1,
        `--force with a failing method exited ${forced.code}:\n${forced.err}`,
      );
      assert(!(await has(`${run}/kn`)), "KN's folder beside a comparison without KN");
      assert(await has(`${run}/rome/notes.txt`), "a folder of the user's was removed");
      const forcedMd = await Deno.readTextFile(`${run}/comparison.md`);
      assert(
        forcedMd.includes(`\`${run}/ft-l.partial\` (FT-L failed)`) &&
          !forcedMd.includes(`\`${run}/ft-l\``),
        forcedMd,
      );
      // Its time is no 0 ms: "failed" in the printed table, null in the JSON.
      assert(/^\| ms \/ edit \| \d+ \| failed \|$/m.test(forced.out), forced.out);
      const forcedJson = JSON.parse(await Deno.readTextFile(`${run}/comparison.json`));
      assert(forcedJson.methods[1].msPerEdit === null, JSON.stringify(forcedJson.methods[1]));
      // A finished comparison's tables go as soon as a new run over it starts: interrupted, it
      // leaves none at the final names.
      const over = await compare(run, "ft-m", ["--force"], { KNE_FAULT_INTERRUPT_AFTER: "1" });
      assert(over.code === 130, `interrupted run exited ${over.code}:\n${over.err}`);
      for (const f of FINAL) assert(!(await has(`${run}/${f}`)), `${f} of an earlier run left`);

      // Killed (SIGKILL) after the third record: no table at all, the same hint, and --resume.
      const killedRun = `${out}/killed`;
      const killed = await compare(killedRun, "ft-m,kn", [], { KNE_FAULT_KILL_AFTER: "3" });
      assert(killed.signal === "SIGKILL", `not killed: exit ${killed.code}:\n${killed.err}`);
      for (const f of [...FINAL, ...CUT]) {
        assert(!(await has(`${killedRun}/${f}`)), `${f} after a SIGKILL`);
      }
      await refusedWithHint(killedRun);
      await resumes(killedRun);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
