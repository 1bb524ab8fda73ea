// KV-cached generation (src/model/generate.ts, src/model/kvcache.ts) on both tiny fixtures and
// both backends: greedy decoding with the cache gives exactly the tokens, and the logits to 1e-4,
// of recomputing the full forward at every step; a cached forward fed in pieces (batch 2, GQA on
// the Llama) matches the full forward; top-k sampling with a seeded rng is deterministic, equal to
// the metrics' own sampling loop, and only ever picks among the top k.

import { BackendError } from "../../engine/backend.ts";
import type { Backend } from "../../engine/backend.ts";
import { noGrad } from "../../src/autograd/variable.ts";
import { generateTopK } from "../../src/eval/fluency.ts";
import { evalModelFromLogits } from "../../src/eval/model.ts";
import { mulberry32 } from "../../src/random/rng.ts";
import { disposeModel } from "../../src/model/build.ts";
import { evalGenerate, generate } from "../../src/model/generate.ts";
import { KVCache } from "../../src/model/kvcache.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import { testBackends } from "../helpers/backends.ts";
import { loadFixture, ORACLE_FIXTURES } from "../helpers/fixture_model.ts";
import { assertClose } from "../helpers/reference.ts";

async function withModels(be: Backend, fn: (m: CausalLM, name: string) => Promise<void>) {
  for (const name of ORACLE_FIXTURES) {
    const model = await loadFixture(name, be);
    try {
      await fn(model, name);
    } finally {
      disposeModel(model);
    }
  }
  if (be.allocatedBytes() !== 0) throw new Error(`${be.allocatedBytes()} bytes leaked`);
}

const PROMPT = [3, 17, 42, 5, 9, 88];
const steps = (be: Backend) => (be.name === "webgpu" ? 6 : 16);

testBackends("greedy generation with the KV cache equals full recomputation", async (be) => {
  await withModels(be, async (model, name) => {
    const n = steps(be);
    const a = await generate(model, PROMPT, { maxNewTokens: n, returnLogits: true });
    const b = await generate(model, PROMPT, { maxNewTokens: n, returnLogits: true, cache: false });
    if (a.tokens.length !== n || a.tokens.join() !== b.tokens.join()) {
      throw new Error(`${name}: cached ${a.tokens} vs full ${b.tokens}`);
    }
    if (a.ids.join() !== [...PROMPT, ...a.tokens].join()) throw new Error("ids");
    a.logits!.forEach((l, i) => assertClose(l, b.logits![i], 1e-4, `${name} step ${i}`));
  });
});

testBackends("a cached forward fed in pieces equals the full forward (batch 2)", async (be) => {
  await withModels(be, async (model, name) => {
    const t = 7, v = model.config.vocabSize;
    const ids = Array.from({ length: 2 * t }, (_, i) => (i * 37 + 11) % v);
    const rows = (lo: number, hi: number) =>
      [0, 1].flatMap((b) => ids.slice(b * t + lo, b * t + hi));
    const full = await tidyAsync(() =>
      noGrad(() => model.forward(Tensor.fromArray(be, ids, [2, t]))).value.toArray()
    );
    const cache = new KVCache(be, model.config, 2, t);
    try {
      for (const [lo, hi] of [[0, 3], [3, 5], [5, 6], [6, 7]]) {
        const got = await tidyAsync(() =>
          noGrad(() =>
            model.forward(Tensor.fromArray(be, rows(lo, hi), [2, hi - lo]), undefined, cache)
          )
            .value.toArray()
        );
        const want = new Float32Array((hi - lo) * 2 * v);
        for (let b = 0; b < 2; b++) {
          want.set(full.subarray((b * t + lo) * v, (b * t + hi) * v), b * (hi - lo) * v);
        }
        assertClose(got, want, 1e-4, `${name} positions ${lo}..${hi}`);
      }
      if (cache.length !== t) throw new Error(`cache length ${cache.length}`);
    } finally {
      cache.free();
    }
  });
});

testBackends(
  "seeded top-k sampling is deterministic and picks only among the top k",
  async (be) => {
    await withModels(be, async (model, name) => {
      const n = steps(be);
      for (const k of [2, 5]) {
        const run = (cache: boolean) =>
          generate(model, PROMPT, {
            maxNewTokens: n,
            topK: k,
            rng: mulberry32(7 + k),
            cache,
            returnLogits: true,
          });
        const a = await run(true), b = await run(true), c = await run(false);
        if (a.tokens.join() !== b.tokens.join() || a.tokens.join() !== c.tokens.join()) {
          throw new Error(`${name} k=${k}: ${a.tokens} / ${b.tokens} / ${c.tokens}`);
        }
        a.tokens.forEach((tok, i) => {
          const l = a.logits![i];
          // Tokens ranked before tok: higher logit, or equal logit and lower id.
          let before = 0;
          for (let j = 0; j < l.length; j++) {
            if (l[j] > l[tok] || (l[j] === l[tok] && j < tok)) before++;
          }
          if (before >= k) {
            throw new Error(`${name} k=${k} step ${i}: token ${tok} ranks ${before + 1}`);
          }
        });
      }
    });
  },
);

testBackends(
  "the metrics' generate hook equals their one-forward-per-token sampler",
  async (be) => {
    await withModels(be, async (model) => {
      const v = model.config.vocabSize;
      const slow = evalModelFromLogits({
        encode: () => [],
        decode: () => "",
        vocabSize: v,
        logits: (ids) =>
          tidyAsync(() =>
            noGrad(() => model.forward(Tensor.fromArray(be, ids, [1, ids.length]))).value.toArray()
          ),
      });
      const maxLength = PROMPT.length + steps(be);
      const opts = () => ({ maxLength, topK: 3, rng: mulberry32(99) });
      const want = await generateTopK(slow, PROMPT, opts());
      const got = await evalGenerate(model)(PROMPT, opts());
      if (got.join() !== want.join()) throw new Error(`${got} vs ${want}`);
    });
  },
);

testBackends("generation stops after eosId and refuses to pass the context", async (be) => {
  await withModels(be, async (model, name) => {
    const first = (await generate(model, PROMPT, { maxNewTokens: 1 })).tokens[0];
    const r = await generate(model, PROMPT, { maxNewTokens: 5, eosId: first });
    if (r.tokens.join() !== String(first)) throw new Error(`${name}: ${r.tokens}`);
    const ctx = model.config.contextLength;
    for (const f of [() => generate(model, PROMPT, { maxNewTokens: ctx })]) {
      try {
        await f();
        throw new Error("no error");
      } catch (e) {
        if (!(e instanceof BackendError) || !/context length/.test(e.message)) throw e;
      }
    }
    // Without a cache too: a forward of more tokens than the context reads no position past it
    // (GPT-2's table has no such row; a trace of a long prompt used to read past it silently).
    try {
      await tidyAsync(() => {
        noGrad(() => model.forward(Tensor.fromArray(be, new Array(ctx + 1).fill(1), [1, ctx + 1])));
        return Promise.reject(new Error(`${name}: no error`));
      });
    } catch (e) {
      if (!(e instanceof BackendError) || !/exceed the context length/.test(e.message)) throw e;
    }
    // The cache is inference only: a forward that records gradients is refused.
    const cache = new KVCache(be, model.config, 1, 4);
    try {
      await tidyAsync(() => {
        model.forward(Tensor.fromArray(be, [1, 2], [1, 2]), undefined, cache);
        return Promise.reject(new Error("no error"));
      });
    } catch (e) {
      if (!(e instanceof BackendError) || !/noGrad/.test(e.message)) throw e;
    } finally {
      cache.free();
    }
  });
});
