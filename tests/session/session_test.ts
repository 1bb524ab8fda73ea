// The library's in-memory path (mod.ts, src/session/): a folder loaded as a session model, from
// disk or by URL, holds the same weights as the command line's loader (a GPT-2 folder's vocab.json
// and merges.txt read as its tokenizer too), a folder that cannot load is refused naming the
// file (a pipe before it is opened), an edit's patch round-trips through its bytes, and applying or
// reverting it moves the model between the edited and the original weights bit for bit; a bad
// request is refused with its reason. A sharded checkpoint loads by every path as its file does,
// and a folder given as its files' bytes (a page's user picked it) loads as from disk. A session
// model knows its checkpoint's dtypes, as the CLI's loader does, and its patches record them.

import { strict as assert } from "node:assert";
import {
  applyChanges,
  applyPatch,
  complete,
  createBackend,
  decodePatch,
  edit,
  editMany,
  encodePatch,
  freeModel,
  loadModelFromDir,
  loadModelFromFileMap,
  loadModelFromUrl,
  loadProblems,
  revertChanges,
  simpleRequest,
} from "../../mod.ts";
import type { EditRequest } from "../../mod.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { loadTokenizer } from "../../src/io/tokenizer.ts";
import { shardedCopy } from "../helpers/checkpoint.ts";
import { FAMILY_FIXTURES, fixtureDir } from "../helpers/families.ts";
import { TINY, weightBits } from "../helpers/tiny.ts";

const MODEL = "models/kne-facts";
const PROMPT = "The capital of France is";

Deno.test("a folder loaded as a session model, from disk or by URL, equals the command line's loader", async () => {
  const backend = await createBackend("wasm");
  try {
    const session = await loadModelFromDir(MODEL, backend);
    const cli = await loadModel(MODEL, backend);
    assert.deepEqual(await weightBits(session.model), await weightBits(cli.model));
    assert.deepEqual(session.tokenizer.encode(PROMPT), cli.tokenizer!.encode(PROMPT));
    const byUrl = await loadModelFromUrl(new URL(`../../${MODEL}`, import.meta.url), backend);
    assert.deepEqual(await weightBits(byUrl.model), await weightBits(cli.model));
    assert.deepEqual(byUrl.tokenizer.encode(PROMPT), cli.tokenizer!.encode(PROMPT));
  } finally {
    backend.dispose();
  }
});

Deno.test("a sharded checkpoint loads, from disk or by URL, as its single file does", async () => {
  const backend = await createBackend("wasm");
  const dir = await shardedCopy(TINY, 2);
  try {
    const want = await weightBits((await loadModel(TINY, backend)).model);
    for (
      const m of [
        await loadModel(dir, backend),
        await loadModelFromDir(dir, backend),
        await loadModelFromUrl(new URL(`file://${dir}/`), backend),
      ]
    ) {
      assert.deepEqual(await weightBits(m.model), want);
    }
    await Deno.remove(`${dir}/model-00002-of-00002.safetensors`);
    await assert.rejects(
      loadModelFromUrl(new URL(`file://${dir}/`), backend),
      (e: Error) => {
        assert.equal(
          e.message,
          `file://${dir}/model-00002-of-00002.safetensors: not found, though ` +
            "model.safetensors.index.json lists it (an unfinished download?)",
        );
        return true;
      },
    );
    await Deno.remove(`${dir}/model.safetensors.index.json`);
    await assert.rejects(
      loadModelFromUrl(new URL(`file://${dir}/`), backend),
      /model\.safetensors: not found$/,
    );
  } finally {
    backend.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder given as its files' bytes loads as from disk, in every layout", async () => {
  const backend = await createBackend("wasm");
  const sharded = await shardedCopy(TINY, 2);
  const files = async (dir: string) =>
    new Map(
      await Promise.all(
        [...Deno.readDirSync(dir)].filter((e) => e.isFile).map(async (e) =>
          [e.name, await Deno.readFile(`${dir}/${e.name}`)] as const
        ),
      ),
    );
  try {
    const bin = new URL("../fixtures/torch-bin/", import.meta.url).pathname;
    // Every layout, and the families the page's folder input must read as the command line does
    // (GPT-2 as TINY, Llama 3.x's rotary scaling, Qwen3, GPT-NeoX, GPT-J, Gemma 1-3).
    const families = FAMILY_FIXTURES.map(fixtureDir);
    for (const dir of [sharded, `${bin}tiny-gpt2`, `${bin}tiny-gpt2-legacy`, ...families]) {
      const want = await loadModel(dir, backend);
      const got = await loadModelFromFileMap("picked", await files(dir), backend);
      assert.deepEqual(got.model.config, want.model.config, dir);
      assert.deepEqual(await weightBits(got.model), await weightBits(want.model), dir);
      assert.deepEqual(got.tokenizer.encode(PROMPT), want.tokenizer!.encode(PROMPT), dir);
      assert.equal(got.source, "picked");
    }
    // As Blobs (a page's File objects): read only as needed, so another format's weights beside
    // model.safetensors are never read.
    const blobs = new Map<string, Blob>(
      [...await files(TINY)].map(([name, bytes]) => [name, new Blob([bytes])]),
    );
    blobs.set("pytorch_model.bin", {
      arrayBuffer: () => Promise.reject(new Error("pytorch_model.bin was read")),
    } as Blob);
    const fromBlobs = await loadModelFromFileMap("picked", blobs, backend);
    assert.deepEqual(
      await weightBits(fromBlobs.model),
      await weightBits((await loadModel(TINY, backend)).model),
    );
    // A model that cannot fit is refused from config.json, before a weight file is read.
    const huge = JSON.parse(await Deno.readTextFile(`${TINY}/config.json`));
    const hugeFiles = new Map<string, Uint8Array | Blob>([
      [
        "config.json",
        new TextEncoder().encode(JSON.stringify({ ...huge, n_embd: 16384, n_layer: 64 })),
      ],
      ["tokenizer.json", await Deno.readFile(`${TINY}/tokenizer.json`)],
      ["model.safetensors", {
        arrayBuffer: () => Promise.reject(new Error("model.safetensors was read")),
      } as Blob],
    ]);
    const fits = (config: ModelConfig) => {
      const problems = loadProblems(config, backend);
      if (problems.length > 0) throw new Error(`does not fit: ${problems[0]}`);
    };
    await assert.rejects(
      loadModelFromFileMap("picked", hugeFiles, backend, "auto", fits),
      /^Error: does not fit: /,
    );
    assert.deepEqual(loadProblems((await loadModel(TINY, backend)).plan.config, backend), []);
    await assert.rejects(
      loadModelFromFileMap("picked", new Map([["config.json", new Uint8Array()]]), backend),
      /^ConfigError: picked\/config\.json: not valid JSON/,
    );
    const noWeights = await files(TINY);
    noWeights.delete("model.safetensors");
    await assert.rejects(
      loadModelFromFileMap("picked", noWeights, backend),
      /picked\/model\.safetensors: not found$/,
    );
  } finally {
    backend.dispose();
    await Deno.remove(sharded, { recursive: true });
  }
});

Deno.test("a folder that cannot load is refused with its file's path, a pipe before it is read", async () => {
  const backend = await createBackend("wasm");
  const dir = await Deno.makeTempDir({ prefix: "kne-session-dir-" });
  try {
    const refusal = (d: string) =>
      loadModelFromDir(d, backend).then(() => "loaded", (e) => (e as Error).message);
    assert.equal(await refusal(`${dir}/nope`), `${dir}/nope: no such folder`);
    await Deno.copyFile(`${MODEL}/config.json`, `${dir}/config.json`);
    await Deno.copyFile(`${MODEL}/tokenizer.json`, `${dir}/tokenizer.json`);
    assert.match(await refusal(`${dir}/config.json`), /config\.json: not a folder$/);
    assert.match(
      await refusal(dir),
      new RegExp(`^${dir}/model\\.safetensors \\[model\\.safetensors\\]: file not found`),
    );
    await new Deno.Command("mkfifo", { args: [`${dir}/model.safetensors`] }).output();
    assert.match(await refusal(`${dir}/`), /model\.safetensors: cannot open: not a regular file/);
    await Deno.remove(`${dir}/model.safetensors`);
    await Deno.copyFile(`${MODEL}/model.safetensors`, `${dir}/model.safetensors`);
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, "{oops");
    assert.match(await refusal(dir), /tokenizer_config\.json: not valid JSON: /);
    await Deno.remove(`${dir}/tokenizer_config.json`);
    assert.equal(await refusal(dir), "loaded");
  } finally {
    backend.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a GPT-2 folder with vocab.json and merges.txt for its tokenizer loads, from disk or by URL, as the command line reads it", async () => {
  const backend = await createBackend("wasm");
  const dir = await Deno.makeTempDir({ prefix: "kne-session-slow-" });
  const base = "models/kne-facts-base";
  try {
    await Deno.copyFile(`${base}/config.json`, `${dir}/config.json`);
    await Deno.symlink(
      await Deno.realPath(`${base}/model.safetensors`),
      `${dir}/model.safetensors`,
    );
    const json = JSON.parse(await Deno.readTextFile(`${base}/tokenizer.json`));
    await Deno.writeTextFile(`${dir}/vocab.json`, JSON.stringify(json.model.vocab));
    const merges = json.model.merges.map(([a, b]: string[]) => `${a} ${b}`).join("\n");
    await Deno.writeTextFile(`${dir}/merges.txt`, `#version: 0.2\n${merges}\n`);
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, '{"add_prefix_space": true}');
    const cli = await loadTokenizer(dir);
    for (
      const session of [
        await loadModelFromDir(dir, backend),
        await loadModelFromUrl(new URL(`file://${dir}/`), backend),
      ]
    ) {
      for (const text of ["France's capital is", "Salaries in Peru are paid in"]) {
        assert.deepEqual(session.tokenizer.encode(text), cli.encode(text), text);
      }
      assert.equal(session.tokenizer.addsPrefixSpace, true);
    }
    await Deno.remove(`${dir}/merges.txt`);
    await assert.rejects(loadModelFromUrl(new URL(`file://${dir}/`), backend), /tokenizer\.json/);
  } finally {
    backend.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an edit's patch bytes revert and re-apply it exactly", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    const original = await weightBits(m.model);
    const out = await edit(m, simpleRequest(PROMPT, "Rome"), { hparams: { steps: 20 } });
    assert.equal(out.metrics.editSucc, 1);
    assert.ok(out.changes.length > 0);
    const edited = await weightBits(m.model);
    const patch = await decodePatch("patch.safetensors", await encodePatch(out.changes));
    assert.deepEqual(await applyPatch(m, patch, "revert"), []);
    assert.deepEqual(await weightBits(m.model), original);
    assert.equal(await complete(m, PROMPT), out.before.completion);
    // Reverting twice is refused: the model no longer holds the patch's "after" values.
    await assert.rejects(() => applyPatch(m, patch, "revert"), /does not hold the values/);
    assert.deepEqual(await applyPatch(m, patch, "apply"), []);
    assert.deepEqual(await weightBits(m.model), edited);
    assert.equal(await complete(m, PROMPT), out.after.completion);
  } finally {
    backend.dispose();
  }
});

Deno.test("edit() names what is wrong: an empty prompt or target, an unknown method", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    const original = await weightBits(m.model);
    await assert.rejects(() => edit(m, simpleRequest(" ", "Rome")), /the prompt is empty/);
    await assert.rejects(() => edit(m, simpleRequest(PROMPT, "")), /the new target is empty/);
    // In the library's terms, not the command line's ("--method must be one of").
    await assert.rejects(
      () => edit(m, simpleRequest(PROMPT, "Rome"), { method: "rom" }),
      /^EditInputError: unknown editing method "rom"; the methods are kne, kne-paper, /,
    );
    assert.deepEqual(await weightBits(m.model), original);
  } finally {
    backend.dispose();
  }
});

Deno.test("editMany() refuses a mode other than batch or sequential, before any edit", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    const original = await weightBits(m.model);
    const requests = [simpleRequest(PROMPT, "Rome")];
    // They ran as single mode: every edit reverted and `changes` empty, with no word said.
    for (const mode of ["single", "sequental", undefined]) {
      await assert.rejects(
        () => editMany(m, requests, { mode } as unknown as { mode: "batch" }),
        (e: Error) => {
          assert.equal(e.name, "EditInputError");
          assert.equal(
            e.message,
            `editMany: mode must be "batch" or "sequential", got ${JSON.stringify(mode)} ` +
              "(edit() edits one request)",
          );
          return true;
        },
      );
    }
    assert.deepEqual(await weightBits(m.model), original);
  } finally {
    backend.dispose();
  }
});

Deno.test("editMany() of no requests says so, in both modes", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    for (const mode of ["batch", "sequential"] as const) {
      await assert.rejects(
        () => editMany(m, [], { mode }),
        /^EditInputError: editMany: no requests to edit$/,
      );
    }
  } finally {
    backend.dispose();
  }
});

Deno.test("applyChanges/revertChanges refuse another model's changes before writing any", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    const original = await weightBits(m.model);
    const fc = "transformer.h.0.mlp.c_fc.weight";
    const own = {
      name: fc,
      shape: [...m.model.params.get(fc)!.shape],
      indices: Uint32Array.of(0, 5),
      before: Float32Array.of(1, 2),
      after: Float32Array.of(3, 4),
    };
    // tiny-gpt2's c_fc is [32, 128]: its entries 0 and 5 were written into this [128, 512] one.
    const smaller = { ...own, shape: [32, 128] };
    const missing = { ...own, name: "transformer.h.7.mlp.c_fc.weight" };
    const unordered = { ...own, indices: Uint32Array.of(5, 0) };
    const cases: [typeof own, RegExp][] = [
      [smaller, /holds it as \[128, 512\], the changes as \[32, 128\] \(are these another/],
      [missing, /models\/kne-facts has no such tensor \(are these another model's changes\?\)/],
      [unordered, /index 0 at 1 is not ascending within \[0, 65536\)/],
    ];
    for (const [bad, why] of cases) {
      for (
        const [name, write] of [["applyChanges", applyChanges], [
          "revertChanges",
          revertChanges,
        ]] as const
      ) {
        // The good change first: it used to be written before the bad one failed.
        assert.throws(() => write(m, [own, bad]), (e: Error) => {
          assert.equal(e.name, "EditInputError");
          assert.ok(e.message.startsWith(`${name}: tensor ${bad.name}: `), e.message);
          assert.match(e.message, why);
          assert.match(e.message, /; nothing was written$/);
          return true;
        });
      }
    }
    assert.deepEqual(await weightBits(m.model), original);
  } finally {
    backend.dispose();
  }
});

Deno.test("a weight dtype other than auto, f32 or f16 is refused before any weight is uploaded", async () => {
  const backend = await createBackend("wasm");
  try {
    // "fp16" loaded f32 matrices and reported m.weights.dtype "fp16".
    const bad = "fp16" as "f16";
    const refusal = /^RangeError: weight dtype must be "auto", "f32" or "f16", got "fp16"$/;
    await assert.rejects(() => loadModelFromDir(MODEL, backend, bad), refusal);
    await assert.rejects(
      () => loadModelFromUrl(new URL(`../../${MODEL}`, import.meta.url), backend, bad),
      refusal,
    );
    assert.equal(backend.allocatedBytes(), 0);
    assert.equal((await loadModelFromDir(MODEL, backend, "f16")).weights.dtype, "f16");
  } finally {
    backend.dispose();
  }
});

Deno.test("a method that edits f32 weights refuses a model loaded with f16 ones, as the command line does", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend, "f16");
    const original = await weightBits(m.model);
    const request = simpleRequest(PROMPT, "Rome");
    for (const method of ["ft-l", "ft-m", "kn", "rome", "memit"]) {
      const refusal = `EditInputError: ${method} edits f32 weights, and ${MODEL} holds its ` +
        `matrices as f16: load it with dtype "f32" to edit it with ${method}`;
      await assert.rejects(() => edit(m, request, { method }), (e: Error) => {
        assert.equal(`${e.name}: ${e.message}`, refusal);
        return true;
      });
      await assert.rejects(() => editMany(m, [request], { method, mode: "batch" }), (e: Error) => {
        assert.equal(`${e.name}: ${e.message}`, refusal);
        return true;
      });
    }
    assert.deepEqual(await weightBits(m.model), original);
    // KNE steps f32 masters of f16 weights.
    assert.equal((await edit(m, request, { method: "kne" })).metrics.editSucc, 1);
  } finally {
    backend.dispose();
  }
});

Deno.test("edit() and editMany() name the first wrong field of what is not an EditRequest", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    const hint = "(simpleRequest() makes an EditRequest; parseRequests() and validateRequests() " +
      "read a request file's records into them)";
    const good = simpleRequest(PROMPT, "Rome");
    // A request file's record as it is: it failed with "Cannot read properties of undefined".
    const record = { subject: "France", prompt: PROMPT, target_new: "Rome" };
    const cases: [unknown, string][] = [
      [record, "field targetNew: expected a string, got nothing (the field is missing)"],
      [
        { ...good, index: undefined },
        "field index: expected an integer, got nothing (the field is missing)",
      ],
      [null, "expected an EditRequest object, got null"],
      [
        { ...good, rephrasePrompts: "France's capital is" },
        "field rephrasePrompts: expected an array of strings, got string",
      ],
      [
        { ...good, locality: { Forgetfulness: [{ prompt: PROMPT }] } },
        "field locality.Forgetfulness: expected an array of { prompt, answer } strings, got array",
      ],
    ];
    for (const [request, why] of cases) {
      await assert.rejects(
        () => edit(m, request as EditRequest),
        (e: Error) => {
          assert.equal(`${e.name}: ${e.message}`, `EditInputError: request: ${why} ${hint}`);
          return true;
        },
      );
      await assert.rejects(
        () => editMany(m, [good, request as EditRequest], { mode: "batch" }),
        (e: Error) => {
          assert.equal(`${e.name}: ${e.message}`, `EditInputError: request 1: ${why} ${hint}`);
          return true;
        },
      );
    }
  } finally {
    backend.dispose();
  }
});

Deno.test("a token count that is not an integer >= 0 is refused, not read as none", async () => {
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    // complete(m, p, -1) gave the prompt alone; 1.5 failed as a BackendError of generate().
    for (const n of [-1, 1.5, NaN]) {
      await assert.rejects(
        () => complete(m, PROMPT, n),
        new RegExp(`^RangeError: complete: maxNewTokens must be an integer >= 0, got ${n}$`),
      );
      await assert.rejects(
        () => edit(m, simpleRequest(PROMPT, "Rome"), { completionTokens: n }),
        new RegExp(`^RangeError: completionTokens must be an integer >= 0, got ${n}$`),
      );
    }
    assert.equal(await complete(m, PROMPT, 0), PROMPT);
  } finally {
    backend.dispose();
  }
});

Deno.test("freeModel() frees one model's weights; the backend goes on with the others", async () => {
  const backend = await createBackend("wasm");
  try {
    const kept = await loadModelFromDir(MODEL, backend);
    const held = backend.allocatedBytes();
    const freed = await loadModelFromDir(MODEL, backend);
    assert.ok(backend.allocatedBytes() > held);
    await freeModel(freed);
    assert.equal(backend.allocatedBytes(), held);
    await assert.rejects(() => complete(freed, PROMPT), /^BackendError: .* was freed$/);
    assert.equal(await complete(kept, PROMPT), "The capital of France is Paris.......");
  } finally {
    backend.dispose();
  }
});

Deno.test("loadModelFromUrl says what it takes when given a path", async () => {
  const backend = await createBackend("wasm");
  try {
    await assert.rejects(
      () => loadModelFromUrl(MODEL, backend),
      (e: Error) => {
        assert.equal(
          `${e.name}: ${e.message}`,
          'TypeError: loadModelFromUrl: "models/kne-facts" is not an absolute URL (http:, https: ' +
            "or file:); a folder on disk loads with loadModelFromDir",
        );
        return true;
      },
    );
  } finally {
    backend.dispose();
  }
});

Deno.test("a session model knows its checkpoint's dtypes, which its patches record", async () => {
  const backend = await createBackend("wasm");
  try {
    // tiny-gptj stores every tensor as F16 (norms and biases too); the CLI's loader reads the same.
    const dir = fixtureDir("tiny-gptj");
    const m = await loadModelFromDir(dir, backend);
    const names = m.model.paramInfo.map((i) => i.name);
    assert.deepEqual([...m.weights.storedDtypes.keys()].sort(), [...names].sort());
    assert.ok([...m.weights.storedDtypes.values()].every((d) => d === "F16"));
    const cli = await loadModel(dir, backend, { tokenizer: false });
    assert.deepEqual(cli.weights.storedDtypes, m.weights.storedDtypes);
    const out = await edit(m, simpleRequest("The capital of France is", "Rome"), {
      hparams: { steps: 2, earlyStopLoss: 0 },
    });
    assert.ok(out.changes.length > 0);
    const patch = await decodePatch(
      "patch.safetensors",
      await encodePatch(out.changes, { method: "page" }, m.weights.storedDtypes),
    );
    assert.deepEqual(patch.map((e) => e.dtype), patch.map(() => "F16"));
  } finally {
    backend.dispose();
  }
});
