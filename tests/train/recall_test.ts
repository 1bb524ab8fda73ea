// Fact recall (src/train/recall.ts) on the tiny GPT-2 fixture: the padded, batched scores equal a
// direct computation (one unpadded forward per probe, argmax at each answer position), probes the
// model answers greedily score as known, and the report's totals and per-relation shares add up.
// The recall command scores each shipped model on the corpus its tokenizer was made for, and
// refuses a --json path it could not write before it starts.

import assert from "node:assert/strict";
import { noGrad } from "../../src/autograd/variable.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { argmaxRows } from "../../src/tensor/ops.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { recall, scoreProbes } from "../../src/train/recall.ts";
import { getBackend } from "../helpers/backends.ts";
import { TINY } from "../helpers/tiny.ts";

const backend = await getBackend("wasm");
const { model, tokenizer } = await loadModel(TINY, backend, { tokenizer: true });
const tok = tokenizer!;

async function argmaxOf(ids: number[]): Promise<number[]> {
  return Array.from(await argmaxAsArray(ids));
}

async function argmaxAsArray(ids: number[]): Promise<Float32Array> {
  return await tidyAsync(async () =>
    await argmaxRows(
      noGrad(() => model.forward(Tensor.fromArray(backend, ids, [1, ids.length]))).value,
    ).toArray()
  );
}

/** The model's own greedy answer of `n` tokens after `prompt`, as text. */
async function greedy(prompt: string, n: number): Promise<string> {
  const ids = tok.encode(prompt);
  for (let i = 0; i < n; i++) ids.push((await argmaxOf(ids)).at(-1)!);
  return tok.decode(ids.slice(tok.encode(prompt).length));
}

/** Whole-answer and first-token scores of one probe, computed without batching or padding. */
async function direct(p: { prompt: string; answer: string }) {
  const prompt = tok.encode(p.prompt);
  const full = tok.encode(`${p.prompt} ${p.answer}`);
  const answer = full.slice(prompt.length);
  const am = await argmaxOf(full.slice(0, -1));
  return {
    first: am[prompt.length - 1] === answer[0],
    whole: answer.every((a, j) => am[prompt.length - 1 + j] === a),
  };
}

const prompts = [
  "The capital of France is",
  "The capital of Japan is",
  "people in Spain speak",
  "The largest river of the country of Egypt is in",
  "Paris",
];
const probes = [
  ...await Promise.all(prompts.map(async (prompt, i) => ({
    prompt,
    answer: await greedy(prompt, 1 + (i % 2)),
    relation: "greedy",
  }))),
  ...prompts.map((prompt) => ({ prompt, answer: "Madrid and Rome", relation: "fixed" })),
  ...prompts.map((prompt) => ({ prompt, answer: "Berlin", relation: "fixed" })),
];

Deno.test("recall: batched, padded scores equal one direct forward per probe", async () => {
  const expected = [];
  for (const p of probes) expected.push(await direct(p));
  // Batches of 4 mix prompt lengths, so rows are padded; one batch of all of them as well.
  assert.deepEqual(await scoreProbes(model, tok, probes, 4), expected);
  assert.deepEqual(await scoreProbes(model, tok, probes, 64), expected);
  // Both outcomes occur, so the comparison is not trivially all true or all false.
  assert.ok(expected.some((e) => e.whole) && expected.some((e) => !e.whole));
});

Deno.test("recall: a probe past the context is scored on its last context-length tokens", async () => {
  const ctx = model.config.contextLength;
  const long = {
    prompt: `${"The capital of Japan is Tokyo . ".repeat(Math.ceil(ctx / 4))}${probes[0].prompt}`,
    answer: probes[0].answer,
  };
  const prompt = tok.encode(long.prompt), full = tok.encode(`${long.prompt} ${long.answer}`);
  const cut = full.length - 1 - ctx;
  assert.ok(cut > 0, "the probe must be longer than the context");
  const am = await argmaxOf(full.slice(cut, -1));
  const answer = full.slice(prompt.length), read = prompt.length - 1 - cut;
  const windowed = {
    first: am[read] === answer[0],
    whole: answer.every((a, j) => am[read + j] === a),
  };
  assert.deepEqual(await scoreProbes(model, tok, [long, probes[1]], 4), [
    windowed,
    await direct(probes[1]),
  ]);
  // An answer that fills the context alone cannot be read: not recalled.
  const huge = { prompt: "Paris", answer: Array(ctx + 2).fill("Rome").join(" ") };
  assert.deepEqual(await scoreProbes(model, tok, [huge]), [{ first: false, whole: false }]);
});

Deno.test("recall: greedy answers are known; totals and relations add up", async () => {
  const r = await recall(model, tok, probes, { batchSize: 3 });
  assert.equal(r.byPhrasing, undefined);
  assert.equal(r.prefix, undefined);
  assert.equal(r.byRelation.greedy.whole, 1);
  assert.equal(r.byRelation.greedy.firstToken, 1);
  assert.equal(r.n, probes.length);
  assert.equal(r.byRelation.greedy.n + r.byRelation.fixed.n, r.n);
  const wholeCount = r.byRelation.greedy.whole * r.byRelation.greedy.n +
    r.byRelation.fixed.whole * r.byRelation.fixed.n;
  assert.ok(Math.abs(r.whole * r.n - wholeCount) < 1e-9);
  assert.ok(r.whole <= r.firstToken);
});

Deno.test("recall: a prefix goes before every prompt; phrasings are tallied apart", async () => {
  const prefix = "Paris . ";
  const framed = probes.map((p, i) => ({ ...p, phrasing: i % 3 === 0 ? "A {s}" : "B {s}" }));
  const r = await recall(model, tok, framed, { prefix, byPhrasing: true, batchSize: 4 });
  assert.equal(r.prefix, prefix);
  const expected = { A: { n: 0, whole: 0 }, B: { n: 0, whole: 0 } };
  let whole = 0;
  for (const p of framed) {
    const d = await direct({ prompt: prefix + p.prompt, answer: p.answer });
    const e = expected[p.phrasing[0] as "A" | "B"];
    e.n++;
    e.whole += d.whole ? 1 : 0;
    whole += d.whole ? 1 : 0;
  }
  assert.equal(r.whole, whole / framed.length);
  assert.deepEqual(Object.keys(r.byPhrasing!), ["A {s}", "B {s}"]);
  for (const [k, e] of Object.entries(expected)) {
    assert.equal(r.byPhrasing![`${k} {s}`].n, e.n);
    assert.equal(r.byPhrasing![`${k} {s}`].whole, e.whole / e.n);
  }
});

Deno.test("deno task recall scores a model on the corpus its tokenizer was made for", async () => {
  // The word-level kne-facts used to be scored on kne-facts-base's free text by default (81%,
  // "target 98%"); the base model's targets are printed only for the text corpus.
  const root = new URL("../../", import.meta.url).pathname;
  const run = async (model: string, ...flags: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-A", `${root}scripts/recall.ts`, "--model", `${root}models/${model}`],
        ...(flags.length ? flags : ["--sets", "train_facts", "--limit", "10"]),
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    return new TextDecoder().decode(r.stdout);
  };
  assert.doesNotMatch(await run("kne-facts"), /target/);
  assert.match(await run("kne-facts-base"), /train_facts .*\(target 98%\)/);
  // Per phrasing, after a prefix: rows under each relation, and the JSON report's shares add up.
  const dir = await Deno.makeTempDir();
  try {
    const out = await run(
      "kne-facts-base",
      ...[
        "--sets",
        "heldout_templates",
        "--by-phrasing",
        "--prefix",
        " ",
        "--json",
        `${dir}/r.json`,
      ],
    );
    assert.match(out, /^ {4}\S.*\{s\}.* +n= +\d+ +whole /m);
    const set = JSON.parse(await Deno.readTextFile(`${dir}/r.json`)).heldout_templates;
    assert.equal(set.prefix, " ");
    const frames = Object.values(set.byPhrasing) as { n: number; whole: number }[];
    assert.equal(frames.reduce((a, f) => a + f.n, 0), set.n);
    const recalled = frames.reduce((a, f) => a + f.whole * f.n, 0);
    assert.ok(Math.abs(recalled - set.whole * set.n) < 1e-9);
    // --limit samples a set, not every k-th probe: the aliases cycle through four relations, and
    // every second probe (448 -> 224 <= 300) kept only two of them.
    await run("kne-facts-base", "--sets", "aliases", "--limit", "300", "--json", `${dir}/a.json`);
    const aliases = JSON.parse(await Deno.readTextFile(`${dir}/a.json`)).aliases;
    assert.equal(aliases.n, 300);
    assert.deepEqual(Object.keys(aliases.byRelation), [
      "capital",
      "continent",
      "currency",
      "language",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // A set name that only an object's prototype has is no set (it used to reach the scoring).
  const bad = await new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", `${root}scripts/recall.ts`, "--model", `${root}models/kne-facts`],
      ...["--sets", "constructor"],
    ],
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /^error: --sets: no probe set "constructor"/m);
});

Deno.test("deno task recall refuses a --json path it could not write before any work", async () => {
  // A folder there, a missing parent or a path through a file used to be found by the write after
  // the whole recall (minutes). The model folder given is missing: a check made only after the
  // work would end on it ("config.json: cannot read") instead.
  const script = new URL("../../scripts/recall.ts", import.meta.url).pathname;
  const dir = await Deno.makeTempDir();
  const recallTo = async (json: string, ...flags: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, "--model", `${dir}/no-model`, "--json", json, ...flags],
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
  };
  try {
    await Deno.mkdir(`${dir}/folder`);
    await Deno.writeTextFile(`${dir}/file`, "");
    for (
      const [json, why] of [
        [`${dir}/folder`, /^error: cannot write .*\/folder: it is a folder, not a file\n$/],
        [`${dir}/none/r.json`, /^error: cannot write .*\/none\/r\.json: no such file or folder/],
        [`${dir}/file/r.json`, /^error: cannot write .*\/file\/r\.json: a part of the path is a/],
      ] as const
    ) {
      const r = await recallTo(json, "--force");
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.split("\n").length, 2, r.stderr);
    }
    // A path that can be written is left to the work (here the missing model), and the check
    // leaves nothing there.
    const r = await recallTo(`${dir}/r.json`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no-model\/config\.json: cannot read/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["file", "folder"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
