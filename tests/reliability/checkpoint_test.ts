// A checkpoint that disagrees with its config.json, or holds damaged weights, on copies of the
// tiny GPT-2 fixture: tensors of layers beyond the config's layer count are refused (the model
// would silently lose them), other tensors the config does not use are listed in a warning,
// and NaN or infinite weights (F32, and F16 kept as f16) are refused at load with the file,
// tensor and index; the edit command reports the first two before any edit.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ModelFileError } from "../../src/io/errors.ts";
import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { getBackend } from "../helpers/backends.ts";
import { halfCopy } from "../helpers/checkpoint.ts";
import { copyModel, FAST, REQUESTS, runEdit } from "./cli_helpers.ts";
import { FAULTS } from "./counts.ts";

const TMP = await Deno.makeTempDir({ prefix: "kne-ckpt-" });
const opts = { sanitizeResources: false, sanitizeOps: false };

/** A copy of the tiny GPT-2 whose tensors are rewritten by `edit` (name -> data). */
async function variant(
  name: string,
  edit: (tensors: { name: string; shape: readonly number[]; data: Float32Array }[]) => void,
): Promise<string> {
  const dir = await copyModel("tiny-gpt2", join(TMP, name));
  const f = await openSafetensors(join(dir, "model.safetensors"));
  const tensors = [];
  try {
    for (const [n, info] of f.tensors) {
      tensors.push({ name: n, shape: info.shape, data: await f.read(n) });
    }
  } finally {
    f.close();
  }
  edit(tensors);
  await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  return dir;
}

/** The fixture with layers 2 and 3 added (copies of 0 and 1) under its 2-layer config.json. */
const fourLayers = () =>
  variant("four-layers", (ts) => {
    for (const t of [...ts]) {
      const m = /^transformer\.h\.([01])\.(.*)$/.exec(t.name);
      if (m) ts.push({ ...t, name: `transformer.h.${Number(m[1]) + 2}.${m[2]}` });
    }
  });

async function loadError(dir: string): Promise<ModelFileError> {
  try {
    await loadModel(dir, await getBackend("wasm"), { tokenizer: false });
  } catch (e) {
    if (e instanceof ModelFileError) return e;
    throw e;
  }
  throw new Error(`${dir} loaded`);
}

Deno.test({
  name: "a 4-layer checkpoint under an n_layer: 2 config is refused, naming both",
  ...opts,
  fn: async () => {
    const dir = await fourLayers();
    const e = await loadError(dir);
    assert.equal(e.file, join(dir, "model.safetensors"));
    assert.match(e.field ?? "", /^transformer\.h\.2\./);
    assert.match(e.message, /holds layers up to 3 .* but config\.json's n_layer is 2/);
    // Through the edit command: exit 1, the message, and no output folder.
    const out = join(TMP, "four-out");
    const r = await runEdit([
      "--model",
      dir,
      "--requests",
      REQUESTS,
      "--n",
      "1",
      "--out",
      out,
      ...FAST,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: .*model\.safetensors \[transformer\.h\.2\..*n_layer is 2/);
    assert.equal(await Deno.stat(out).then(() => true, () => false), false);
    FAULTS.add("checkpoint with more layers than its config", 2);
  },
});

Deno.test({
  name: "tensors the config does not describe are listed in a warning; known buffers are not",
  ...opts,
  fn: async () => {
    const dir = await variant("extra", (ts) => {
      ts.push({ name: "transformer.h.0.attn.bias", shape: [1], data: new Float32Array(1) });
      ts.push({ name: "score.weight", shape: [2, 32], data: new Float32Array(64) });
      ts.push({ name: "transformer.adapter.weight", shape: [4], data: new Float32Array(4) });
    });
    const { weights } = await loadModel(dir, await getBackend("wasm"), { tokenizer: false });
    assert.equal(weights.warnings.length, 1, weights.warnings.join("\n"));
    assert.match(weights.warnings[0], /ignoring 2 tensors config\.json does not describe: /);
    assert.match(weights.warnings[0], /score\.weight/);
    assert.match(weights.warnings[0], /transformer\.adapter\.weight/);
    assert.doesNotMatch(weights.warnings[0], /attn\.bias/);
    const clean = await loadModel(join(TMP, "four-layers"), await getBackend("wasm"), {
      tokenizer: false,
    }).catch(() => null);
    assert.equal(clean, null, "the four-layer folder still refused");
    FAULTS.add("checkpoint with unknown tensors", 1);
  },
});

Deno.test({
  name: "NaN or infinite weights are refused at load with the file, tensor and index",
  ...opts,
  fn: async () => {
    const cases: [string, string, number, number][] = [
      ["nan", "transformer.h.1.mlp.c_fc.weight", 77, NaN],
      ["inf", "transformer.ln_f.bias", 3, Infinity],
      ["neg-inf", "transformer.wte.weight", 0, -Infinity],
    ];
    for (const [what, name, at, value] of cases) {
      const dir = await variant(what, (ts) => {
        ts.find((t) => t.name === name)!.data[at] = value;
      });
      const e = await loadError(dir);
      assert.equal(e.file, join(dir, "model.safetensors"), what);
      assert.equal(e.field, name, what);
      assert.match(e.message, new RegExp(`entry ${at} \\(flat index\\) is ${value}`), what);
      FAULTS.add("NaN/Inf weights", 1);
    }
    // F16 weights kept as f16 on the device are scanned in their raw bits.
    const half = await halfCopy(join(TMP, "nan"), "F16");
    try {
      const e = await (async () => {
        try {
          await loadModel(half, await getBackend("wasm"), { tokenizer: false, dtype: "f16" });
        } catch (e) {
          return e as ModelFileError;
        }
        throw new Error("the F16 copy with a NaN loaded");
      })();
      assert.ok(e instanceof ModelFileError, String(e));
      assert.equal(e.field, "transformer.h.1.mlp.c_fc.weight");
      assert.match(e.message, /entry 77 \(flat index\) is NaN/);
      FAULTS.add("NaN/Inf weights", 1);
    } finally {
      await Deno.remove(half, { recursive: true });
    }
  },
});
