// f16 weights end to end: a model whose matrices are f16 on the device computes exactly what the
// f32 model computes with those matrices rounded to f16 (logits, loss and every gradient, GPT-2
// and Llama, both backends); checkpoints load as the requested dtype (F16 bit for bit, BF16 and
// F32 rounded, out-of-range matrices kept f32 with a note, and refused by name when that f32 buffer
// is over the device's per-buffer limit the plan could not check) and save back exactly; a missing
// tensor is refused without leaking device memory; writeEntries (an edit's changes written back)
// writes lone entries and unaligned runs into f32 and f16 tensors keeping every other entry's
// bits, leaves nothing allocated, and refuses indices that are not ascending or out of range.

import { rejects as assertRejects, throws as assertThrows } from "node:assert/strict";
import type { Backend } from "../../engine/backend.ts";
import { backward } from "../../src/autograd/variable.ts";
import { ModelFileError } from "../../src/io/errors.ts";
import { openSafetensors } from "../../src/io/safetensors.ts";
import { disposeModel } from "../../src/model/build.ts";
import { isMatrix } from "../../src/model/dtype.ts";
import { loadModel, saveWeights } from "../../src/pipeline/load.ts";
import { lmLoss } from "../../src/model/loss.ts";
import { writeEntries } from "../../src/tensor/ops.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { halfCopy } from "../helpers/checkpoint.ts";
import { assertClose } from "../helpers/reference.ts";

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

/** Logits, loss and every parameter gradient of `dir`'s model loaded as `dtype`. */
async function lossAndGrads(
  be: Backend,
  dir: string,
  dtype: "f32" | "f16",
  round: boolean,
): Promise<{ dtypes: string[]; out: Map<string, Float32Array> }> {
  const { model } = await loadModel(dir, be, { dtype, tokenizer: false });
  try {
    if (round) {
      // The f32 reference: the same model with its matrices rounded to f16 on the host.
      for (const info of model.paramInfo.filter(isMatrix)) {
        const v = model.params.get(info.name)!.value;
        const data = await v.toArray();
        for (let i = 0; i < data.length; i++) data[i] = Math.f16round(data[i]);
        be.upload(v.buffer, data);
      }
    }
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    const targets = ids.map((_, i) => (i + 1 < ids.length ? ids[i + 1] : -1));
    const out = new Map<string, Float32Array>();
    await tidyAsync(async () => {
      const r = lmLoss(model, ids, targets, 1);
      backward(r.loss);
      out.set("logits", await r.logits.value.toArray());
      out.set("loss", await r.loss.value.toArray());
    });
    for (const [name, p] of model.params) {
      if (!p.grad) throw new Error(`no gradient reached ${name}`);
      out.set(`grad ${name}`, await p.grad.toArray());
      p.zeroGrad();
    }
    return { dtypes: [...model.params.values()].map((p) => p.value.dtype), out };
  } finally {
    disposeModel(model);
  }
}

for (const name of ["tiny-gpt2", "tiny-llama"]) {
  testBackends(
    `${name} with f16 matrices equals the f32 model with f16-rounded matrices`,
    async (be) => {
      const half = await lossAndGrads(be, fixture(name), "f16", false);
      const ref = await lossAndGrads(be, fixture(name), "f32", true);
      if (!half.dtypes.includes("f16") || !half.dtypes.includes("f32")) {
        throw new Error(`expected f16 matrices and f32 vectors, got ${half.dtypes}`);
      }
      if (ref.dtypes.includes("f16")) throw new Error("the reference must be all f32");
      for (const [k, v] of ref.out) assertClose(half.out.get(k)!, v, 1e-4, k);
    },
  );
}

testBackends(
  "the f16 path is not the f32 path: rounding the matrices moves the logits",
  async (be) => {
    // Guards the test above against comparing two f32 models.
    const half = await lossAndGrads(be, fixture("tiny-gpt2"), "f16", false);
    const full = await lossAndGrads(be, fixture("tiny-gpt2"), "f32", false);
    const a = half.out.get("logits")!, b = full.out.get("logits")!;
    if (a.every((x, i) => x === b[i])) throw new Error("f16 and f32 logits are identical");
  },
);

testBackends("an F16 checkpoint loads bit for bit and saves back identical", async (be) => {
  const dir = await halfCopy(fixture("tiny-gpt2"), "F16");
  const out = await Deno.makeTempDir({ prefix: "kne-f16-save-" });
  try {
    const m = await loadModel(dir, be, { tokenizer: false });
    // auto: f16 on WebGPU for a half-precision checkpoint, f32 on WASM.
    const want = be.name === "webgpu" ? "f16" : "f32";
    if (m.weights.dtype !== want) throw new Error(`auto chose ${m.weights.dtype}, not ${want}`);
    disposeModel(m.model);
    const { model } = await loadModel(dir, be, { tokenizer: false, dtype: "f16" });
    await saveWeights(model, out);
    disposeModel(model);
    const a = await openSafetensors(`${dir}/model.safetensors`);
    const b = await openSafetensors(`${out}/model.safetensors`);
    try {
      for (const [name, info] of a.tensors) {
        const other = [name, `transformer.${name}`].find((n) => b.tensors.has(n));
        if (!other) throw new Error(`${name} was not saved`);
        if (b.tensors.get(other)!.dtype !== info.dtype) {
          throw new Error(`${name}: saved as ${b.tensors.get(other)!.dtype}, not ${info.dtype}`);
        }
        const x = await a.readRaw(name), y = await b.readRaw(other);
        if (x.length !== y.length || x.some((v, i) => v !== y[i])) {
          throw new Error(`${name}: saved bytes differ from the checkpoint`);
        }
      }
    } finally {
      a.close();
      b.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

testBackends(
  "a checkpoint missing a tensor is refused by name and frees what it uploaded",
  async (be) => {
    const src = await openSafetensors(`${fixture("tiny-gpt2")}/model.safetensors`);
    const last = [...src.tensors.keys()].at(-1)!;
    src.close();
    const dir = await halfCopy(fixture("tiny-gpt2"), "F16", { drop: last });
    const before = be.allocatedBytes();
    try {
      const err = await loadModel(dir, be, { tokenizer: false, dtype: "f16" }).then(
        () => null,
        (e) => e,
      );
      if (!(err instanceof ModelFileError) || !String(err.message).includes("tensor is missing")) {
        throw new Error(`expected ModelFileError "tensor is missing", got ${err}`);
      }
      if (!String(err.message).includes(last.replace(/^transformer\./, ""))) {
        throw new Error(`the error does not name ${last}: ${err.message}`);
      }
      if (be.allocatedBytes() !== before) {
        throw new Error(`${be.allocatedBytes() - before} bytes stay allocated after the refusal`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

testBackends("a BF16 matrix beyond the f16 range stays f32, with a note", async (be) => {
  const big = "transformer.h.0.mlp.c_fc.weight";
  const dir = await halfCopy(fixture("tiny-gpt2"), "BF16", { big });
  try {
    const { model, weights } = await loadModel(dir, be, { tokenizer: false, dtype: "f16" });
    try {
      const v = model.params.get(big)!.value;
      if (v.dtype !== "f32") throw new Error(`${big} is ${v.dtype}`);
      if ((await v.toArray())[0] !== 999424) throw new Error("the BF16 value was not kept");
      if (!weights.notes.some((n) => n.includes(big) && n.includes("f32"))) {
        throw new Error(`no note names ${big}: ${weights.notes}`);
      }
      const other = model.params.get("transformer.h.0.attn.c_attn.weight")!.value;
      if (other.dtype !== "f16") throw new Error("the other matrices should be f16");
    } finally {
      disposeModel(model);
    }
    // The memory plan counted it in f16 (8,192 B): on a device whose per-buffer limit its f32
    // buffer (16,384 B) is over, the load refuses it by name, leaving nothing allocated.
    const limits = be.limits.bind(be);
    const patched = be as { limits: Backend["limits"] };
    patched.limits = () => ({ ...limits(), maxBufferBytes: 12_000 });
    const live = be.allocatedBytes();
    try {
      await assertRejects(
        loadModel(dir, be, { tokenizer: false, dtype: "f16" }),
        (e: Error) =>
          e instanceof ModelFileError && e.field === big &&
          /stays f32: one buffer of 16,384 bytes, over the device's limit of 12,000/.test(
            e.message,
          ),
      );
    } finally {
      delete (patched as Partial<Backend>).limits; // back to the prototype's method
    }
    if (be.allocatedBytes() !== live) throw new Error("the refused load left buffers behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

testBackends(
  "writeEntries writes scattered entries and runs, keeping their neighbours",
  async (be) => {
    // f32 and f16, a vector and matrices of odd widths; runs starting on odd entries, lone entries,
    // whole rows, a column, both ends; values off the f16 grid (rounded to nearest in f16).
    const shapes = [[301], [7, 33], [40, 5]];
    for (const dtype of ["f32", "f16"] as const) {
      for (const shape of shapes) {
        const n = shape.reduce((a, b) => a * b, 1), cols = shape.at(-1)!;
        const round = (x: number) => dtype === "f16" ? Math.f16round(x) : Math.fround(x);
        const base = Float32Array.from({ length: n }, (_, i) => round(i / 7 - 20));
        const picked = new Set<number>();
        for (const [off, len] of [[0, 1], [1, 1], [3, 4], [cols, cols], [n - 3, 3]]) {
          for (let i = off; i < Math.min(off + len, n); i++) picked.add(i);
        }
        for (let i = 2; i < n; i += cols + 2) picked.add(i);
        const indices = Uint32Array.from([...picked].sort((a, b) => a - b));
        const values = Float32Array.from(indices, (i) => Math.fround(i + 0.3));
        const live = be.allocatedBytes();
        const t = Tensor.fromArray(be, base, shape, dtype);
        try {
          writeEntries(t, indices, values);
          const expect = base.slice();
          indices.forEach((e, i) => expect[e] = round(values[i]));
          const got = await t.toArray();
          got.forEach((x, i) => {
            if (!Object.is(x, expect[i])) {
              throw new Error(`${dtype} [${shape}] element ${i} is ${x}, expected ${expect[i]}`);
            }
          });
          for (const bad of [Uint32Array.of(3, 2), Uint32Array.of(1, 1), Uint32Array.of(n)]) {
            assertThrows(
              () => writeEntries(t, bad, new Float32Array(bad.length)),
              /not ascending within/,
            );
          }
        } finally {
          t.free();
        }
        // Nothing of the write outlives it, and t itself is released.
        if (be.allocatedBytes() !== live) {
          throw new Error(
            `${dtype} [${shape}]: ${be.allocatedBytes() - live} bytes left allocated`,
          );
        }
      }
    }
  },
);
