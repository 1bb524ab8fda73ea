// The rotary tables (src/model/rope.ts) read from config.json against the float32 tables torch
// computes as transformers does (tests/fixtures/rope-inv-freq.json, made by
// tests/oracle/make_fixtures.py): the default, linear and llama3 types at real models' sizes.

import assert from "node:assert/strict";
import { parseModelConfig } from "../../src/model/read-config.ts";
import { defaultInvFreq, ropeInvFreq, scaleInvFreq } from "../../src/model/rope.ts";

interface Table {
  head_dim: number;
  rope_theta: number;
  rope_scaling: Record<string, unknown> | null;
  default_bits: number[];
  inv_freq_bits: number[];
}

const fromBits = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
const toBits = (v: Float32Array) => Array.from(new Uint32Array(v.buffer));

const { tables } = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/rope-inv-freq.json", import.meta.url)),
) as { tables: Table[] };

Deno.test("rotary tables against torch's float32 ones", () => {
  assert.ok(tables.some((t) => t.rope_scaling?.rope_type === "llama3"));
  let offByOne = 0;
  for (const t of tables) {
    const what = `head ${t.head_dim}, theta ${t.rope_theta}, ${JSON.stringify(t.rope_scaling)}`;
    const config = parseModelConfig({
      architectures: ["LlamaForCausalLM"],
      vocab_size: 16,
      hidden_size: 2 * t.head_dim,
      intermediate_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      max_position_embeddings: 131072,
      rope_theta: t.rope_theta,
      rope_scaling: t.rope_scaling,
    }, "rope-inv-freq.json");
    // Scaling torch's own default table gives torch's scaled table bit for bit.
    const scaled = scaleInvFreq(fromBits(t.default_bits), config.ropeScaling);
    assert.deepEqual(toBits(scaled), t.inv_freq_bits, what);
    // The default table: torch's float32 pow is not always correctly rounded; ours is, so the
    // two differ by at most one unit in the last place.
    const ours = toBits(defaultInvFreq(t.head_dim, config.ropeTheta));
    ours.forEach((b, i) => {
      assert.ok(Math.abs(b - t.default_bits[i]) <= 1, `${what}: frequency ${i}`);
      if (b !== t.default_bits[i]) offByOne++;
    });
    const full = toBits(ropeInvFreq(t.head_dim, config.ropeTheta, config.ropeScaling));
    if (ours.join() === t.default_bits.join()) assert.deepEqual(full, t.inv_freq_bits, what);
  }
  // The real models' tables (the first six) are equal; the odd setting has torch's one miss.
  assert.equal(offByOne, 1);
});

Deno.test("llama3 scaling keeps high frequencies, divides low ones, blends between", () => {
  // Llama 3.2 1B: head 64, theta 500000, factor 32, original context 8192.
  const s = {
    type: "llama3",
    factor: 32,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalContext: 8192,
  } as const;
  const plain = ropeInvFreq(64, 500000, null), scaled = ropeInvFreq(64, 500000, s);
  let kept = 0, divided = 0, blended = 0;
  for (let i = 0; i < 32; i++) {
    const wavelen = (2 * Math.PI) / plain[i], ratio = scaled[i] / plain[i];
    if (wavelen < 8192 / 4) {
      assert.equal(scaled[i], plain[i]);
      kept++;
    } else if (wavelen > 8192) {
      assert.ok(Math.abs(ratio - 1 / 32) < 1e-6, `${i}: ${ratio}`);
      divided++;
    } else {
      // Between the two, the ratio moves from 1 (short waves) to 1/32 (long ones).
      const smooth = (8192 / wavelen - 1) / 3;
      assert.ok(Math.abs(ratio - ((1 - smooth) / 32 + smooth)) < 1e-6, `${i}: ${ratio}`);
      blended++;
    }
  }
  assert.ok(kept > 0 && divided > 0 && blended > 0, `${kept} ${divided} ${blended}`);
  const linear = ropeInvFreq(64, 500000, { type: "linear", factor: 4 });
  linear.forEach((v, i) => assert.equal(v, Math.fround(plain[i] / 4)));
});
