// The committed oracle fixtures (tests/oracle/make_fixtures.py) read back with the expected
// names, shapes and dtypes, and their expected outputs are self-consistent.

import assert from "node:assert/strict";
import { readModelConfig } from "../../src/model/read-config.ts";
import { openSafetensors, type TensorToWrite, writeSafetensors } from "../../src/io/safetensors.ts";
import type { ModelConfig } from "../../src/model/config.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const SEQ = 12;

/** Hugging Face parameter names and shapes a model of this config stores. */
function expectedParams(c: ModelConfig): Map<string, number[]> {
  const d = c.dModel, ff = c.dFF, v = c.vocabSize, hd = c.dModel / c.nHeads;
  const p = new Map<string, number[]>();
  if (c.architecture === "gpt2") {
    p.set("transformer.wte.weight", [v, d]);
    p.set("transformer.wpe.weight", [c.contextLength, d]);
    for (let i = 0; i < c.nLayers; i++) {
      const h = `transformer.h.${i}.`;
      p.set(h + "ln_1.weight", [d]).set(h + "ln_1.bias", [d]);
      p.set(h + "attn.c_attn.weight", [d, 3 * d]).set(h + "attn.c_attn.bias", [3 * d]);
      p.set(h + "attn.c_proj.weight", [d, d]).set(h + "attn.c_proj.bias", [d]);
      p.set(h + "ln_2.weight", [d]).set(h + "ln_2.bias", [d]);
      p.set(h + "mlp.c_fc.weight", [d, ff]).set(h + "mlp.c_fc.bias", [ff]);
      p.set(h + "mlp.c_proj.weight", [ff, d]).set(h + "mlp.c_proj.bias", [d]);
    }
    p.set("transformer.ln_f.weight", [d]).set("transformer.ln_f.bias", [d]);
  } else {
    p.set("model.embed_tokens.weight", [v, d]);
    for (let i = 0; i < c.nLayers; i++) {
      const h = `model.layers.${i}.`;
      p.set(h + "input_layernorm.weight", [d]);
      p.set(h + "self_attn.q_proj.weight", [c.nHeads * hd, d]);
      p.set(h + "self_attn.k_proj.weight", [c.nKvHeads * hd, d]);
      p.set(h + "self_attn.v_proj.weight", [c.nKvHeads * hd, d]);
      p.set(h + "self_attn.o_proj.weight", [d, c.nHeads * hd]);
      p.set(h + "post_attention_layernorm.weight", [d]);
      p.set(h + "mlp.gate_proj.weight", [ff, d]);
      p.set(h + "mlp.up_proj.weight", [ff, d]);
      p.set(h + "mlp.down_proj.weight", [d, ff]);
    }
    p.set("model.norm.weight", [d]);
    if (!c.tieEmbeddings) p.set("lm_head.weight", [v, d]);
  }
  return p;
}

for (const [name, dtype] of [["tiny-gpt2", "F32"], ["tiny-llama", "BF16"]] as const) {
  Deno.test(`${name}: weights and expected outputs read back consistently`, async () => {
    const dir = `${FIXTURES}${name}`;
    const config = await readModelConfig(dir);
    const want = expectedParams(config);
    const model = await openSafetensors(`${dir}/model.safetensors`);
    const expected = await openSafetensors(`${dir}/expected.safetensors`);
    try {
      assert.equal(model.metadata.format, "pt");
      assert.deepEqual([...model.tensors.keys()].sort(), [...want.keys()].sort());
      for (const [pname, shape] of want) {
        const info = model.tensors.get(pname)!;
        assert.equal(info.dtype, dtype, pname);
        assert.deepEqual([...info.shape], shape, pname);
        const w = await model.read(pname);
        assert.equal(w.length, shape.reduce((a, b) => a * b, 1));
        assert.ok(w.every(Number.isFinite), `${pname} finite`);
        if (dtype === "BF16") {
          const bits = new Uint32Array(w.buffer);
          assert.ok(bits.every((b) => (b & 0xffff) === 0), `${pname} is exactly bf16`);
        }
        // Every parameter has a gradient of its own shape, and it is not all zero.
        const g = expected.tensors.get(`grad.${pname}`);
        assert.ok(g, `grad.${pname} present`);
        assert.equal(g.dtype, "F32");
        assert.deepEqual([...g.shape], shape, `grad.${pname} shape`);
        const gv = await expected.read(`grad.${pname}`);
        assert.ok(gv.every(Number.isFinite) && gv.some((x) => x !== 0), `grad.${pname} values`);
      }
      assert.equal(expected.tensors.size, 3 + want.size);
      assert.deepEqual([...expected.tensors.get("input_ids")!.shape], [SEQ]);
      assert.deepEqual([...expected.tensors.get("logits")!.shape], [SEQ, config.vocabSize]);
      assert.deepEqual([...expected.tensors.get("loss")!.shape], [1]);
      const ids = await expected.read("input_ids");
      assert.ok(ids.every((x) => Number.isInteger(x) && x >= 0 && x < config.vocabSize));
      // The stored loss is the mean next-token cross-entropy of the stored logits.
      const logits = await expected.read("logits");
      const V = config.vocabSize;
      let sum = 0;
      for (let t = 0; t < SEQ - 1; t++) {
        const row = Array.from(logits.subarray(t * V, (t + 1) * V));
        const mx = Math.max(...row);
        const lse = mx + Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0));
        sum += lse - row[ids[t + 1]];
      }
      const loss = (await expected.read("loss"))[0];
      assert.ok(Math.abs(sum / (SEQ - 1) - loss) < 1e-5 * loss, `loss ${loss} vs ${sum / 11}`);
      assert.ok(Math.abs(Number(expected.metadata.loss_f64) - loss) < 1e-6 * loss);
      // Activations are not trivially small (weights are std ~0.15, not init-tiny).
      let sq = 0;
      for (const x of logits) sq += x * x;
      assert.ok(Math.sqrt(sq / logits.length) > 0.3, "logits have a real spread");
    } finally {
      model.close();
      expected.close();
    }
  });
}

Deno.test("writeSafetensors reproduces the oracle's independently written files byte for byte", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kne-fix-" });
  try {
    for (
      const file of [
        "tiny-gpt2/model.safetensors",
        "tiny-llama/model.safetensors",
        "tiny-llama/expected.safetensors",
      ]
    ) {
      const src = await openSafetensors(`${FIXTURES}${file}`);
      const tensors: TensorToWrite[] = [];
      for (const [name, info] of src.tensors) {
        const dtype = info.dtype as "F32" | "BF16";
        tensors.push({ name, shape: info.shape, data: await src.read(name), dtype });
      }
      src.close();
      const out = `${tmp}/copy.safetensors`;
      await writeSafetensors(out, tensors, { ...src.metadata });
      assert.deepEqual(Deno.readFileSync(out), Deno.readFileSync(`${FIXTURES}${file}`), file);
    }
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});
