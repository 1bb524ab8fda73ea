// The patch command end to end: `scripts/edit.ts` writes an edited checkpoint and a sparse patch;
// `scripts/patch.ts apply` on the original model reproduces the edited weights bit for bit, and
// `revert` on the edited model reproduces the original ones; the same for an f16 edit of an F16
// checkpoint, whose outputs stay F16, for a sharded checkpoint and a PyTorch one
// (pytorch_model.bin), whose edit and patched copy are one model.safetensors, for GPT-J's F16
// fixture, and for Gemma 2's and 3's (norm weights stored as offsets from 1); an all-F16
// checkpoint's edit keeps F16 every tensor whose values F16 holds (norms and biases included), and
// its revert gives every tensor back in F16, byte for byte (an old patch without the recorded
// dtypes as before). A trained model's card and recall.json are not copied: they describe the
// unpatched weights.

import { deepEqual, equal } from "node:assert/strict";
import { openCheckpoint } from "../../src/io/checkpoint.ts";
import { readPatch, writePatch } from "../../src/io/patch.ts";
import {
  exactWriteDtype,
  openSafetensors,
  type SafetensorsFile,
} from "../../src/io/safetensors.ts";
import { halfCopy, shardedCopy } from "../helpers/checkpoint.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MODEL = `${ROOT}tests/fixtures/tiny-gpt2`;

async function run(script: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/${script}`, ...args],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  equal(r.code, 0, `${script} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

/** What `read` gives of every tensor, by name without the transformer. prefix. */
async function eachTensor<T>(
  dir: string,
  read: (f: SafetensorsFile, name: string) => Promise<T> | T,
): Promise<Map<string, T>> {
  const f = await openCheckpoint(dir);
  const out = new Map<string, T>();
  try {
    for (const name of f.tensors.keys()) {
      out.set(name.replace(/^transformer\./, ""), await read(f, name));
    }
  } finally {
    f.close();
  }
  return out;
}

/** Raw bytes, values and stored dtype of every tensor. */
const tensors = (dir: string) => eachTensor(dir, (f, name) => f.readRaw(name));
const values = (dir: string) => eachTensor(dir, (f, name) => f.read(name));
const dtypes = (dir: string) => eachTensor(dir, (f, name) => f.tensors.get(name)!.dtype);

function assertSameBits(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>, what: string) {
  equal(a.size, b.size, `${what}: tensor count`);
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || x.length !== y.length || x.some((v, i) => v !== y[i])) {
      throw new Error(`${what}: ${name} differs`);
    }
  }
}

/**
 * Edits `model` through the CLI into DIR/edit (its checkpoint in DIR/edit/model), then applies
 * the patch to `model` (DIR/applied) and reverts it from the edited checkpoint (DIR/reverted).
 */
async function editApplyRevertInto(dir: string, model: string, extra: string[]): Promise<void> {
  await run("edit.ts", [
    "--model",
    model,
    "--prompt",
    "The capital of France is",
    "--target",
    "Tokyo",
    "--backend",
    "wasm",
    "--no-fluency",
    "--out",
    `${dir}/edit`,
    ...extra,
  ]);
  await patchBoth(`${dir}/edit/patch.safetensors`, model, `${dir}/edit/model`, dir);
}

/** Applies `patch` to `model` into OUT/applied and reverts it from `edited` into OUT/reverted. */
async function patchBoth(patch: string, model: string, edited: string, out: string) {
  await run("patch.ts", ["apply", "--patch", patch, "--model", model, "--out", `${out}/applied`]);
  await run("patch.ts", [
    "revert",
    "--patch",
    patch,
    "--model",
    edited,
    "--out",
    `${out}/reverted`,
  ]);
}

/**
 * Edits `model` through the CLI, then checks that apply rebuilds the edited weights and revert
 * the original ones bit for bit, and that the edit changed something.
 */
async function editApplyRevert(
  model: string,
  extra: string[],
  checkApplied: (dir: string) => void = () => {},
  /** Tensors of `model` the loader does not use (a tied head), left out of the comparisons. */
  unused = /^$/,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await editApplyRevertInto(dir, model, extra);
    const original = await tensors(model);
    for (const name of original.keys()) if (unused.test(name)) original.delete(name);
    const edited = await tensors(`${dir}/edit/model`);
    // Every tensor keeps its stored dtype: an f16 edit writes exact F16 values.
    for (const out of [`${dir}/edit/model`, `${dir}/applied`, `${dir}/reverted`]) {
      const want = await dtypes(model), got = await dtypes(out);
      for (const [name, t] of want) {
        if (!unused.test(name)) equal(got.get(name), t, `${out}: dtype of ${name}`);
      }
    }
    const applied = await tensors(`${dir}/applied`);
    for (const name of applied.keys()) if (unused.test(name)) applied.delete(name);
    assertSameBits(applied, edited, "apply");
    checkApplied(`${dir}/applied`);
    assertSameBits(await tensors(`${dir}/reverted`), original, "revert");
    let differs = false;
    for (const [k, v] of edited) if (v.some((x, i) => x !== original.get(k)![i])) differs = true;
    if (!differs) throw new Error("the edit changed nothing, so the test would prove nothing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("patch apply and revert reproduce the edited and original weights bit for bit", async () => {
  await editApplyRevert(MODEL, []);
});

Deno.test("an f16 edit of an F16 checkpoint saves F16 weights that the patch rebuilds bit for bit", async () => {
  const half = await halfCopy(MODEL, "F16");
  try {
    await editApplyRevert(half, ["--dtype", "f16"]);
  } finally {
    await Deno.remove(half, { recursive: true });
  }
});

Deno.test("a sharded checkpoint edits, and its patch applies to it as one model.safetensors", async () => {
  const sharded = await shardedCopy(MODEL, 3);
  try {
    await editApplyRevert(sharded, [], (applied) => {
      const files = [...Deno.readDirSync(applied)].map((e) => e.name).sort();
      deepEqual(files, [".kne-output", "config.json", "model.safetensors", "tokenizer.json"]);
    });
  } finally {
    await Deno.remove(sharded, { recursive: true });
  }
});

Deno.test("a PyTorch checkpoint (tied GPT-2 .bin) edits, and its patch applies to it", async () => {
  const bin = `${ROOT}tests/fixtures/torch-bin/tiny-gpt2`;
  await editApplyRevert(bin, [], (applied) => {
    const files = [...Deno.readDirSync(applied)].map((e) => e.name).sort();
    deepEqual(files, [".kne-output", "config.json", "model.safetensors", "tokenizer.json"]);
  }, /^lm_head\.weight$/);
});

Deno.test("a GPT-J checkpoint's f16 edit and its patch keep the stored layout", async () => {
  // tiny-gptj's weights (q/k rows as stored: the rotary pairs them where they lie; lm_head with a
  // bias), its matrices F16 beside F32 vectors, as the f16 test above (an edit writes the vectors
  // it holds in f32 as F32).
  const half = await halfCopy(`${ROOT}tests/fixtures/tiny-gptj`, "F16");
  try {
    await editApplyRevert(half, ["--dtype", "f16"]);
  } finally {
    await Deno.remove(half, { recursive: true });
  }
});

Deno.test("an all-F16 checkpoint's edit keeps F16 every tensor whose values F16 holds", async () => {
  // tiny-gptj stores every tensor as F16, norms and biases too, which the device holds in f32 (all
  // of them with WASM's default f32 weights): the edit wrote each of those as F32. Only a tensor
  // the edit gave values F16 cannot hold (trained in f32) is F32 now, so nothing is rounded; the
  // patch records the F16 it had, so revert gives the checkpoint back byte for byte.
  const model = `${ROOT}tests/fixtures/tiny-gptj`;
  const original = await values(model);
  for (const dtype of await (await dtypes(model)).values()) equal(dtype, "F16");
  for (const extra of [["--dtype", "f16"], []]) {
    const dir = await Deno.makeTempDir();
    try {
      await editApplyRevertInto(dir, model, extra);
      const edited = await values(`${dir}/edit/model`);
      const saved = await dtypes(`${dir}/edit/model`);
      equal(edited.size, original.size);
      for (const [name, v] of edited) {
        equal(saved.get(name), exactWriteDtype(v, "F16"), `${extra}: dtype of ${name}`);
      }
      if ([...edited].every(([k, v]) => v.every((x, i) => x === original.get(k)![i]))) {
        throw new Error("the edit changed nothing, so the test would prove nothing");
      }
      // The patch applies and reverts as exactly: apply rebuilds the saved checkpoint, and revert
      // the original one, every tensor in its original dtype (F16, the f32-trained ones too).
      assertSameBits(await tensors(`${dir}/applied`), await tensors(`${dir}/edit/model`), "apply");
      deepEqual(await dtypes(`${dir}/reverted`), await dtypes(model));
      assertSameBits(await tensors(`${dir}/reverted`), await tensors(model), "revert");
      // A patch written before the dtypes were recorded still applies and reverts as it did: to
      // the same values, each tensor in the dtype the patched model stores it in.
      const old = `${dir}/old-patch.safetensors`;
      const entries = await readPatch(`${dir}/edit/patch.safetensors`);
      await writePatch(old, entries.map((e) => ({ ...e, indices: Uint32Array.from(e.indices) })));
      const f = await openSafetensors(old);
      equal(f.metadata.dtypes, undefined);
      f.close();
      await patchBoth(old, model, `${dir}/edit/model`, `${dir}/old`);
      assertSameBits(
        await tensors(`${dir}/old/applied`),
        await tensors(`${dir}/edit/model`),
        "old",
      );
      deepEqual(await dtypes(`${dir}/old/reverted`), saved);
      deepEqual(await values(`${dir}/old/reverted`), original);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("Gemma checkpoints' edits and patches keep the norms' stored offsets", async () => {
  // Gemma's norm weights are offsets from 1 (the forward adds the 1; saving 1 + w would change
  // every norm and q_norm / k_norm): tiny-gemma2 as stored (F32, four norms a layer), and
  // tiny-gemma3 edited in f16 from an F16 copy (its matrices F16 beside F32 vectors).
  await editApplyRevert(`${ROOT}tests/fixtures/tiny-gemma2`, []);
  const half = await halfCopy(`${ROOT}tests/fixtures/tiny-gemma3`, "F16");
  try {
    await editApplyRevert(half, ["--dtype", "f16"]);
  } finally {
    await Deno.remove(half, { recursive: true });
  }
});

Deno.test("a patched copy of a trained model leaves its card and recall.json behind", async () => {
  // They describe the trained weights; the patched folder used to carry them, claiming the card
  // and recall figures of a model it is not. It holds what the edit's OUT/model/ holds.
  const trained = await Deno.makeTempDir();
  try {
    for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) {
      await Deno.copyFile(`${MODEL}/${f}`, `${trained}/${f}`);
    }
    await Deno.writeTextFile(`${trained}/README.md`, "# a trained model's card\n");
    await Deno.writeTextFile(`${trained}/recall.json`, "{}\n");
    await editApplyRevert(trained, [], (applied) => {
      const files = [...Deno.readDirSync(applied)].map((e) => e.name).sort();
      deepEqual(files, [".kne-output", "config.json", "model.safetensors", "tokenizer.json"]);
    });
  } finally {
    await Deno.remove(trained, { recursive: true });
  }
});
