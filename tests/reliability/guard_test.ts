// The guards in-process (src/io/tokenizer-guard.ts; src/pipeline/ output-guard.ts, manifest.ts and
// failure.ts): backtracking patterns (ReDoS: a repeat or an alternation inside a repeated group, more than 2 repeats in a row) are refused while real
// tokenizer patterns pass; a tokenizer that encodes outside its vocabulary is caught; output
// paths related to the model folder (also through symlinks) are refused; a resume must match
// the run's manifest; failures name the saved records; and a lost WebGPU device makes every
// backend call fail promptly (no hang), which the edit run reports as EXIT_DEVICE_LOST.

import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { createWebGpuBackend } from "../../engine/webgpu/backend.ts";
import {
  backtrackingRisk,
  checkTokenizerFile,
  guardTokenizer,
  MAX_REPEATS_IN_A_ROW,
} from "../../src/io/tokenizer-guard.ts";
import {
  checkManifest,
  type RunManifest,
  runManifest,
  sameRun,
  weightsIdentity,
} from "../../src/pipeline/manifest.ts";
import { checkOutPath, GuardError } from "../../src/pipeline/output-guard.ts";
import { describeFailure, EXIT_DEVICE_LOST } from "../../src/pipeline/failure.ts";
import { loadTokenizer, TokenizerError } from "../../src/io/tokenizer.ts";
import { getBackend, hasWebGpu } from "../helpers/backends.ts";
import { FAULTS, FUZZ } from "./counts.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

const REAL_PATTERNS = [
  // GPT-2
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  // Llama 3
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  // Qwen2
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  "\\p{N}",
  "[\\(\\)+*]+",
  "\\(a+\\)+",
  "(ab)?c*",
];
const REDOS = [
  "(a+)+$",
  "(.*a){12}",
  "(\\w+\\s?)+$",
  "([a-zA-Z]+)*!",
  "((ab)*)+",
  "(?:a+)+",
  // Alternation and optional atoms inside a repeat: the shapes the first check missed.
  "(a|aa)+$",
  "(?:x|xy)*z",
  "(a?){30}a{30}",
  "(\\d|\\d\\d)+$",
  // Repeats in a row that share characters: polynomial of high degree (5.2 s on 41 letters).
  "a*a*a*a*a*a*a*a*$",
  "\\s*\\s*\\s*x",
  ".*x.*x.*x.*y",
  "(?:a*b*)c*$",
];

Deno.test("backtrackingRisk: ReDoS shapes are caught, real tokenizer patterns pass", () => {
  for (const r of REDOS) assert.equal(backtrackingRisk(r), true, r);
  for (const r of REAL_PATTERNS) assert.equal(backtrackingRisk(r), false, r);
  // Generated patterns: sequences of atoms with at most MAX_REPEATS_IN_A_ROW repeats in a row
  // pass, one more is caught, and so is wrapping a repeating group in a repeat.
  const atom = fc.constantFrom("a", "\\d", "[a-z]", "\\p{L}", ".", "[)(*+]", "\\(");
  const quant = fc.constantFrom("*", "+", "{2,}", "{1,3}", "*?", "++");
  const item = fc.tuple(atom, fc.option(fc.oneof(quant, fc.constant("?")), { nil: "" }));
  const flat = fc.array(item, { minLength: 1, maxLength: 4 }).map((xs) => ({
    text: xs.map(([a, q]) => a + q).join(""),
    repeats: xs.filter(([, q]) => q !== "" && q !== "?").length,
  }));
  const prefix = fc.constantFrom("(", "(?:", "(?i:", "(?<n>");
  fc.assert(
    fc.property(flat, flat, prefix, quant, fc.boolean(), (a, b, p, q, wrap) => {
      const plain = `${a.text}|${p}${b.text})`;
      const row = Math.max(a.repeats, b.repeats);
      assert.equal(backtrackingRisk(plain), row > MAX_REPEATS_IN_A_ROW, plain);
      // One repeat after the group adds one to the row of its longest alternative.
      const after = `${p}${a.text}|${b.text})x${q}`;
      assert.equal(backtrackingRisk(after), row + 1 > MAX_REPEATS_IN_A_ROW, after);
      const inner = `${p}${a.text}${q.startsWith("{1") ? "+" : q})`;
      const nested = wrap ? `${p}${inner}${b.text})${q}` : `${inner}${q}`;
      assert.equal(backtrackingRisk(nested), true, nested);
    }),
    { numRuns: 500 },
  );
  FUZZ.add("backtrackingRisk patterns", 500);
});

async function tokenizerDir(json: unknown): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kne-tok-" });
  await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(json));
  return dir;
}

Deno.test("a ReDoS pre-tokenizer is refused before anything is encoded", async () => {
  const base = JSON.parse(await Deno.readTextFile(`${FIXTURES}tiny-gpt2/tokenizer.json`));
  const dir = await tokenizerDir({
    ...base,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [{ type: "Split", pattern: { Regex: "(a+)+$" }, behavior: "Isolated" }],
    },
  });
  try {
    await assert.rejects(
      checkTokenizerFile(dir),
      (e: unknown) =>
        e instanceof TokenizerError &&
        /\[pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex\]: pattern "\(a\+\)\+\$": it repeats a group/
          .test(e.message),
    );
    // The alternation the first check let through (a 60-letter word hung encoding past 60 s).
    const alt = await tokenizerDir({
      ...base,
      normalizer: { type: "Replace", pattern: { Regex: "(a|aa)+$" }, content: "b" },
    });
    await assert.rejects(
      checkTokenizerFile(alt),
      (e: unknown) =>
        e instanceof TokenizerError &&
        /\[normalizer\.pattern\.Regex\]: pattern "\(a\|aa\)\+\$"/.test(e.message),
    );
    await Deno.remove(alt, { recursive: true });
    // Repeats in a row that the nested-repeat check let through (41 letters: 5.2 s).
    const row = await tokenizerDir({
      ...base,
      normalizer: { type: "Replace", pattern: { Regex: "a*a*a*a*a*a*a*a*$" }, content: "b" },
    });
    await assert.rejects(
      checkTokenizerFile(row),
      (e: unknown) =>
        e instanceof TokenizerError &&
        /\[normalizer\.pattern\.Regex\]: pattern "a\*a\*.*": it holds 3 or more repeats in a row/
          .test(e.message),
    );
    await Deno.remove(row, { recursive: true });
    // The fixtures' and the shipped models' own tokenizers pass.
    await checkTokenizerFile(`${FIXTURES}tiny-gpt2`);
    await checkTokenizerFile(`${FIXTURES}tiny-llama`);
    await checkTokenizerFile(new URL("../../models/kne-facts", import.meta.url).pathname);
    await checkTokenizerFile(new URL("../../models/kne-facts-base", import.meta.url).pathname);
    FAULTS.add("ReDoS tokenizer", 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("guardTokenizer: ids outside the vocabulary and library failures become TokenizerError", async () => {
  // A Unigram model whose unk_id points far past its vocabulary loads, and encodes an unknown
  // word to that id; the guard refuses it.
  const dir = await tokenizerDir({
    version: "1.0",
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: "Whitespace" },
    post_processor: null,
    decoder: null,
    model: { type: "Unigram", unk_id: 1_000_000_000, vocab: [["<unk>", 0], ["The", -1]] },
  });
  try {
    const raw = await loadTokenizer(dir);
    const rawIds = raw.encode("The zebra");
    assert.ok(rawIds.some((i) => i >= raw.vocabSize), `raw ids ${rawIds}`);
    const tok = guardTokenizer(raw);
    assert.throws(
      () => tok.encode("The zebra"),
      (e: unknown) => e instanceof TokenizerError && /outside \[0, 2\)/.test(e.message),
    );
    assert.deepEqual(tok.encode("The"), raw.encode("The"));
    FAULTS.add("tokenizer encoding outside its vocabulary", 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const fine = guardTokenizer(await loadTokenizer(`${FIXTURES}tiny-gpt2`, 96));
  assert.deepEqual(fine.encode("The capital of France is Paris"), [7, 9, 10, 11, 12, 13]);
  assert.equal(fine.decode([7, 9]), "The capital");
});

Deno.test("checkOutPath refuses outputs related to the model folder, through symlinks too", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kne-out-" });
  try {
    const model = join(tmp, "models", "m");
    await Deno.mkdir(model, { recursive: true });
    await Deno.symlink(model, join(tmp, "link"));
    const refused: [string, RegExp][] = [
      [model, /is the input model folder/],
      [join(tmp, "link"), /is the input model folder/],
      [join(tmp, "link", "deeper", "out"), /lies inside the input model folder/],
      [join(tmp, "models"), /contains the input model folder/],
      [tmp, /contains the input model folder/],
      [join(tmp, "models", "m.partial").slice(0, -".partial".length), /is the input model/],
    ];
    await Deno.mkdir(join(tmp, "x.partial"));
    for (const [out, re] of refused) {
      await assert.rejects(
        checkOutPath(out, model),
        (e: unknown) => e instanceof GuardError && re.test(e.message),
      );
    }
    // OUT.partial being the model (a model folder named like a partial one).
    await assert.rejects(checkOutPath(join(tmp, "x"), join(tmp, "x.partial")), GuardError);
    await assert.rejects(checkOutPath(join(tmp, "link", ".."), model), GuardError);
    for (const ok of [join(tmp, "out"), join(tmp, "models", "m2"), join(tmp, "mm")]) {
      await checkOutPath(ok, model);
    }
    FAULTS.add("--out related to the model (in-process)", refused.length + 2);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** What runManifest reads of a run on the model folder `dir`: no requests, an empty model. */
function manifestInputs(dir: string, readsAnchors: boolean, anchors: unknown[]) {
  return {
    method: { name: "kne", usesAnchors: () => readsAnchors },
    mode: "single",
    modelDir: dir,
    hparams: {},
    fluency: false,
    seed: 0,
    targets: [],
    anchors,
    model: { params: new Map() },
  } as unknown as Parameters<typeof runManifest>[0];
}

Deno.test("the manifest's tokenizer changes with tokenizer.json, its config, or GPT-2's vocab.json and merges.txt", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kne-manifest-tok-" });
  try {
    await Deno.writeTextFile(join(dir, "config.json"), "{}");
    await Deno.writeTextFile(join(dir, "model.safetensors"), "x");
    const identity = async () => (await runManifest(manifestInputs(dir, true, []))).tokenizer;
    assert.equal(await identity(), null);
    await Deno.writeTextFile(join(dir, "vocab.json"), '{"a": 0}');
    assert.equal(await identity(), null, "vocab.json without merges.txt is no tokenizer");
    await Deno.writeTextFile(join(dir, "merges.txt"), "#version: 0.2\n");
    const seen = [await identity()];
    await Deno.writeTextFile(join(dir, "merges.txt"), "#version: 0.2\na b\n");
    seen.push(await identity());
    await Deno.writeTextFile(join(dir, "tokenizer_config.json"), "{}");
    seen.push(await identity());
    await Deno.writeTextFile(join(dir, "tokenizer_config.json"), '{"add_prefix_space": true}');
    seen.push(await identity());
    await Deno.writeTextFile(join(dir, "tokenizer.json"), "{}");
    seen.push(await identity());
    await Deno.remove(join(dir, "tokenizer_config.json"));
    seen.push(await identity());
    assert.equal(new Set(seen).size, seen.length, JSON.stringify(seen));
    assert.ok(seen.every((h) => typeof h === "string" && /^[0-9a-f]{64}$/.test(h)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkManifest: a resume must match the run's settings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kne-manifest-" });
  try {
    const m: RunManifest = {
      method: "kne",
      mode: "single",
      model: "/m",
      hparams: { lr: 0.1 },
      fluency: false,
      seed: 0,
      requests: "abc",
      anchors: "def",
      count: 3,
      weights: "10:sha256:00",
      config: "c0",
      tokenizer: "t0",
      weightDtype: "f32",
    };
    // A folder without a manifest and without records (a crash before run.json) is resumed.
    await checkManifest(dir, m, true);
    await checkManifest(dir, m, false);
    await checkManifest(dir, m, true);
    // Each difference named in words; hashes are not shown, other values are.
    const changes: [string, unknown, string][] = [
      ["hparams", { lr: 0.2 }, 'other hyperparameters \\(\\{"lr":0.1\\}, now \\{"lr":0.2\\}\\)'],
      ["requests", "abd", "other requests \\(the same number, other contents\\);"],
      ["count", 4, "another number of requests \\(3, now 4\\)"],
      ["weights", "10:sha256:01", "other weights \\(a changed weight file\\);"],
      ["config", "c1", "another config.json;"],
      [
        "tokenizer",
        null,
        "another tokenizer \\(its files or its config changed\\);",
      ],
      // Records of f32 and f16 weights used to mix (a README audit).
      ["weightDtype", "f16", 'another weight dtype \\(--dtype\\) \\("f32", now "f16"\\)'],
      ["anchors", "deg", "other anchor prompts;"],
    ];
    for (const [k, v, said] of changes) {
      await assert.rejects(
        checkManifest(dir, { ...m, [k]: v }, true),
        (e: unknown) =>
          e instanceof GuardError && new RegExp(`started with ${said}`).test(e.message),
        k,
      );
    }
    // Another --n changes the requests' hash and the count: the count is what is said.
    await assert.rejects(
      checkManifest(dir, { ...m, requests: "abd", count: 4 }, true),
      /started with another number of requests \(3, now 4\)/,
    );
    await Deno.writeTextFile(join(dir, "run.json"), "{");
    await assert.rejects(checkManifest(dir, m, true), /not valid JSON/);
    // Records without the manifest that says which settings and weights made them: refused.
    await Deno.remove(join(dir, "run.json"));
    await Deno.writeTextFile(join(dir, "records.jsonl"), '{"index":0}\n');
    await assert.rejects(
      checkManifest(dir, m, true),
      (e: unknown) =>
        e instanceof GuardError && /1 finished record\(s\) but no run.json/.test(e.message),
    );
    FAULTS.add("resume with other settings or model files (in-process)", 9);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a run that reads no anchors is the same run with any anchor pool", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kne-manifest-anchors-" });
  try {
    await Deno.writeTextFile(join(dir, "config.json"), "{}");
    await Deno.writeTextFile(join(dir, "model.safetensors"), "x");
    const manifest = (reads: boolean, pool: string) =>
      runManifest(manifestInputs(dir, reads, [{ prompt: pool }]));
    // FT-M, ROME and the like: the pool is not part of what made the records.
    assert.equal((await manifest(false, "a")).anchors, null);
    await Deno.writeTextFile(join(dir, "run.json"), JSON.stringify(await manifest(true, "a")));
    assert.ok(await sameRun(dir, await manifest(false, "b")));
    // KNE with a KL term: another pool is another run.
    assert.ok(await sameRun(dir, await manifest(true, "a")));
    assert.ok(!await sameRun(dir, await manifest(true, "b")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describeFailure names the saved records (a cut line is not counted)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kne-fail-" });
  try {
    const be = await getBackend("wasm");
    const out = join(tmp, "out");
    const none = await describeFailure(new Error("boom"), be, out);
    assert.deepEqual(none, { message: "boom", code: 1 });
    await Deno.mkdir(`${out}.partial`);
    await Deno.writeTextFile(
      join(`${out}.partial`, "records.jsonl"),
      '{"index":0}\n{"index":1}\n{"ind',
    );
    const two = await describeFailure(new Error("boom"), be, out);
    assert.equal(two.code, 1);
    assert.match(
      two.message,
      /^boom\n2 finished records are saved in .*out\.partial\/records\.jsonl; rerun with --resume --out .*out to continue$/,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test({
  name: "a lost WebGPU device fails every backend call promptly and is reported as such",
  ignore: !hasWebGpu,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const be = (await createWebGpuBackend())!;
    const a = be.alloc(1000), b = be.alloc(1000);
    be.upload(a, new Float32Array(1000).fill(1));
    be.dispatch("scale", [a, b], [1000, 2]);
    assert.equal((await be.read(b))[999], 2);
    be.device.destroy();
    // Whatever was queued, reads and syncs reject rather than hang; later calls throw. Each call
    // races a watchdog that only a hang trips (a rejection comes in milliseconds, even loaded).
    const outcomes: string[] = [];
    const attempt = async (what: string, f: () => unknown) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hang = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} hung`)), 120_000);
      });
      try {
        await Promise.race([Promise.resolve().then(f), hang]);
        outcomes.push(`${what}: ok`);
      } catch (e) {
        if ((e as Error).message === `${what} hung`) throw e;
        outcomes.push(`${what}: ${(e as Error).name}`);
      } finally {
        clearTimeout(timer);
      }
    };
    await attempt("dispatch", () => be.dispatch("scale", [a, b], [1000, 3]));
    await attempt("read", () => be.read(b));
    await attempt("sync", () => be.sync());
    await attempt("alloc", () => be.alloc(4));
    for (const what of ["read", "sync", "alloc"]) {
      assert.ok(!outcomes.includes(`${what}: ok`), outcomes.join(", "));
    }
    const tmp = await Deno.makeTempDir();
    await Deno.mkdir(join(tmp, "o.partial"));
    await Deno.writeTextFile(join(tmp, "o.partial", "records.jsonl"), '{"index":0}\n');
    const r = await describeFailure(new Error("validation error occurred"), be, join(tmp, "o"));
    assert.equal(r.code, EXIT_DEVICE_LOST);
    assert.match(
      r.message,
      /^the WebGPU device was lost \(.+\) during the run; 1 finished record is saved/,
    );
    assert.match(r.message, /add --backend wasm to continue without the GPU/);
    await Deno.remove(tmp, { recursive: true });
    FAULTS.add("WebGPU device lost (backend)", 1);
  },
});

Deno.test("weightsIdentity: the SHA-256 of every byte, of small and large files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kne-weights-" });
  try {
    const small = join(dir, "small.safetensors");
    await Deno.writeFile(small, new Uint8Array(1000).fill(7));
    const a = await weightsIdentity(small);
    assert.match(a, /^1000:sha256:[0-9a-f]{64}$/);
    const flipped = new Uint8Array(1000).fill(7);
    flipped[999] = 8;
    await Deno.writeFile(small, flipped);
    assert.notEqual(await weightsIdentity(small), a, "any changed byte of a small file shows");
    // A large file changed in place as an edit changes it: one entry, same size, same header.
    // Sampling 18 of its 80 MiB (the identity once did above 64 MiB) missed this change, and an
    // edited copy of the model passed for the original.
    const big = join(dir, "big.safetensors");
    const bytes = new Uint8Array(80 * 2 ** 20);
    await Deno.writeFile(big, bytes);
    const b = await weightsIdentity(big);
    assert.match(b, /^83886080:sha256:[0-9a-f]{64}$/);
    bytes[40 * 2 ** 20 + 3] = 1; // between the blocks a sample would have read
    await Deno.writeFile(big, bytes);
    const c = await weightsIdentity(big);
    assert.notEqual(c, b, "a changed byte in the middle of a large file shows");
    await Deno.writeFile(big, bytes.subarray(0, bytes.length - 8));
    assert.notEqual(await weightsIdentity(big), c);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  FAULTS.add("weights changed in place (small and large files)", 3);
});
