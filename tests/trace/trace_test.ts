// Causal tracing on the tiny GPT-2 and Llama fixtures: indirect effects equal a direct
// computation written apart from the tracer (a corrupted run records every state, and a second
// run adds clean - corrupted at one row, where the tracer masks and replaces); restoring the last
// layer's residual at the last token gives the clean probability; positions before the subject
// have no effect (causal attention keeps the noise from them); the noise is seeded; a window
// restores the MLP or attention output at ROME's range of layers; the position groups are ROME's.
// The clean run's norms of every state equal those of the direct computation's clean run.
// Corrupting the residual after layer 0 instead of the embeddings equals the same direct
// computation with the noise put there, and leaves layer 0's MLP and attention nothing to restore.

import assert from "node:assert/strict";
import * as A from "../../src/autograd/ops.ts";
import { constant, noGrad, type Var } from "../../src/autograd/variable.ts";
import { gaussian } from "../../src/model/build.ts";
import type { CausalLM, HookSite } from "../../src/model/lm.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";
import type { Tokenizer } from "../../src/io/tokenizer.ts";
import {
  type CorruptionSite,
  subjectSpan,
  TRACE_KINDS,
  traceFact,
  type TraceKind,
  windowLayers,
} from "../../src/trace/causal-trace.ts";
import { averageByGroup, groupsOf } from "../../src/trace/positions.ts";
import { testBackends } from "../helpers/backends.ts";

const FIXTURES = ["tiny-gpt2", "tiny-llama"].map((n) =>
  new URL(`../fixtures/${n}`, import.meta.url).pathname
);
const FACT = { prompt: "The capital of France is", subject: "France", answer: "Paris" };

/** P(token) after a forward of `ids` with `hook`, and the states it saw (site/layer -> rows). */
async function run(
  model: CausalLM,
  ids: number[],
  token: number,
  hook: (l: number, site: HookSite, x: Var) => Var | undefined,
): Promise<{ p: number; states: Map<string, Float32Array> }> {
  return await tidyAsync(async () => {
    const seen: [string, Var][] = [];
    const logits = noGrad(() =>
      model.forward(Tensor.fromArray(model.backend, ids, [1, ids.length]), (l, site, x) => {
        const y = hook(l, site, x) ?? x;
        seen.push([`${site}/${l}`, y]);
        return y;
      })
    );
    const all = await logits.value.toArray();
    const v = model.config.vocabSize;
    const row = all.subarray((ids.length - 1) * v, ids.length * v);
    const max = Math.max(...row);
    const sum = row.reduce((a, x) => a + Math.exp(x - max), 0);
    const states = new Map<string, Float32Array>();
    for (const [k, x] of seen) states.set(k, await x.value.toArray());
    return { p: Math.exp(row[token] - max) / sum, states };
  });
}

/**
 * The trace's quantities computed apart from the tracer: P(answer) of the clean and corrupted runs,
 * and the indirect effect of restoring `kind` at `layers` at position i, where each restored
 * layer adds clean - corrupted to a run that already restores the layers before it (so the
 * corrupted value it replaces is the one that run saw).
 */
async function directTrace(
  model: CausalLM,
  tok: Tokenizer,
  seed: number,
  corruptAt: CorruptionSite = "embed",
) {
  const be = model.backend;
  const ids = tok.encode(FACT.prompt);
  const t = ids.length, d = model.config.dModel, v = model.config.vocabSize;
  const token = tok.encode(`${FACT.prompt} ${FACT.answer}`)[t];
  const [s0, s1] = subjectSpan(tok, FACT.prompt, FACT.subject);
  const clean = await run(model, ids, token, () => undefined);
  /** The clean run's L2 norm of state `key` at position i. */
  const norm = (key: string, i: number) =>
    Math.hypot(...clean.states.get(key)!.subarray(i * d, (i + 1) * d));
  // The noise as specified: `noise` x the std of the token-embedding table (or of the clean
  // residual after layer 0, where it goes there), subject rows only.
  const info = model.paramInfo.find((p) => p.layout === "embedding" && p.shape[0] === v)!;
  const table = corruptAt === "layer0"
    ? clean.states.get("resid/0")!
    : await model.params.get(info.name)!.value.toArray();
  let m = 0;
  for (const x of table) m += x / table.length;
  let var2 = 0;
  for (const x of table) var2 += (x - m) ** 2 / table.length;
  const sigma = 3 * Math.sqrt(var2);
  const noiseOf = (k: number) => {
    const n = new Float32Array(t * d);
    n.set(gaussian((s1 - s0) * d, sigma, seed * 1000 + k), s0 * d);
    return constant(Tensor.fromArray(be, n, [t, d]));
  };
  const noisy = (l: number, site: HookSite) =>
    corruptAt === "layer0" ? site === "resid" && l === 0 : site === "embed";
  const runWith = (k: number, deltas: Map<string, Var>) =>
    run(model, ids, token, (l, site, x) => {
      const y = noisy(l, site) ? A.add(x, noiseOf(k)) : x;
      const delta = deltas.get(`${site}/${l}`);
      return delta ? A.add(y, delta) : y;
    });
  const corrupted = [await runWith(0, new Map()), await runWith(1, new Map())];
  const pCorrupted = (corrupted[0].p + corrupted[1].p) / 2;
  const effect = async (kind: TraceKind, layers: number[], i: number) => {
    let p = 0;
    for (const k of [0, 1]) {
      const deltas = new Map<string, Var>();
      let last = corrupted[k];
      for (const l of layers) {
        const key = `${kind}/${l}`;
        const delta = new Float32Array(t * d);
        const c = clean.states.get(key)!, x = last.states.get(key)!;
        for (let j = 0; j < d; j++) delta[i * d + j] = c[i * d + j] - x[i * d + j];
        deltas.set(key, constant(Tensor.fromArray(be, delta, [t, d])));
        last = await runWith(k, deltas);
      }
      p += last.p / 2;
    }
    return p - pCorrupted;
  };
  return { t, s0, pClean: clean.p, pCorrupted, effect, norm };
}

/**
 * The trace's clean and corrupted P(answer), and its effects of every kind at the first and last
 * layer, at the first position, the subject's and the last, equal the direct computation's.
 */
async function assertDirect(
  tr: Awaited<ReturnType<typeof traceFact>>,
  direct: Awaited<ReturnType<typeof directTrace>>,
  L: number,
) {
  const { t, s0 } = direct;
  assert.ok(Math.abs(direct.pClean - tr.pClean) < 1e-5, `${direct.pClean} vs ${tr.pClean}`);
  assert.ok(
    Math.abs(direct.pCorrupted - tr.pCorrupted) < 1e-5,
    `${direct.pCorrupted} vs ${tr.pCorrupted}`,
  );
  for (const kind of TRACE_KINDS) {
    for (const l of [0, L - 1]) {
      for (const i of [0, s0, t - 1]) {
        const want = await direct.effect(kind, [l], i);
        const got = tr.effects[kind][i][l];
        assert.ok(
          Math.abs(got - want) < 1e-5,
          `${kind} layer ${l} position ${i}: ${got} vs ${want}`,
        );
      }
    }
  }
}

for (const dir of FIXTURES) {
  const name = dir.split("/").at(-1);
  testBackends(`trace (${name}): effects equal a direct computation`, async (be) => {
    const { model, tokenizer } = await loadModel(dir, be, { tokenizer: true });
    const tok = tokenizer!;
    const opts = { samples: 2, noise: 3, seed: 5 };
    const tr = await traceFact(model, tok, FACT, opts);
    assert.deepEqual(await traceFact(model, tok, FACT, opts), tr, "seeded: the same trace twice");
    const other = await traceFact(model, tok, FACT, { ...opts, seed: 6 });
    assert.notEqual(other.pCorrupted, tr.pCorrupted, "another seed, other noise");

    const L = model.config.nLayers;
    const direct = await directTrace(model, tok, 5);
    const { t, s0 } = direct;
    // After the tokenizer's leading special tokens (tiny-llama's <s>), "The capital of" first.
    const lead = tok.leadingIds.length;
    assert.deepEqual(tr.subject, [3 + lead, 4 + lead]);
    assert.deepEqual(tr.tokens.slice(s0, tr.subject[1]).map((x) => x.trim()), ["France"]);
    await assertDirect(tr, direct, L);
    // The clean run's norms, of each state and of the token embeddings.
    for (let i = 0; i < t; i++) {
      const e = direct.norm("embed/-1", i);
      assert.ok(Math.abs(tr.embedNorms[i] - e) < 1e-4 * (1 + e), `embedding ${i}`);
      for (const kind of TRACE_KINDS) {
        for (let l = 0; l < L; l++) {
          const want = direct.norm(`${kind}/${l}`, i);
          assert.ok(Math.abs(tr.norms[kind][i][l] - want) < 1e-4 * (1 + want), `${kind}/${l} ${i}`);
        }
      }
    }
    // Restoring the last residual at the last token restores the output exactly.
    assert.ok(Math.abs(tr.effects.resid[t - 1][L - 1] - (tr.pClean - tr.pCorrupted)) < 1e-5);
    // Before the subject nothing is corrupted, so nothing restores anything.
    for (const kind of TRACE_KINDS) {
      for (let i = 0; i < s0; i++) assert.ok(tr.effects[kind][i].every((e) => Math.abs(e) < 1e-6));
    }
  });

  testBackends(`trace (${name}): a window restores the layers around each layer`, async (be) => {
    const { model, tokenizer } = await loadModel(dir, be, { tokenizer: true });
    const tok = tokenizer!;
    const opts = { samples: 2, noise: 3, seed: 5 };
    // Two layers, window 2: layer 0 restores [0, 1), layer 1 restores [0, 2).
    assert.equal(model.config.nLayers, 2);
    const tr = await traceFact(model, tok, FACT, { ...opts, window: 2 });
    const one = await traceFact(model, tok, FACT, opts);
    const direct = await directTrace(model, tok, 5);
    assert.deepEqual(tr.effects.resid, one.effects.resid, "the residual stream: one layer");
    for (const kind of ["mlp_out", "attn_out"] as const) {
      for (const i of [direct.s0, direct.t - 1]) {
        assert.equal(tr.effects[kind][i][0], one.effects[kind][i][0]);
        const want = await direct.effect(kind, [0, 1], i);
        const got = tr.effects[kind][i][1];
        assert.ok(Math.abs(got - want) < 1e-5, `${kind} position ${i}: ${got} vs ${want}`);
        assert.ok(Math.abs(got - one.effects[kind][i][1]) > 1e-6, "two layers differ from one");
      }
    }
    await assert.rejects(() => traceFact(model, tok, FACT, { ...opts, window: 0 }), RangeError);
  });
}

Deno.test("windowLayers: ROME's range(max(0, l - w // 2), min(L, l - (-w // 2)))", () => {
  assert.deepEqual(windowLayers("mlp_out", 0, 10, 48), [0, 1, 2, 3, 4]);
  assert.deepEqual(windowLayers("attn_out", 20, 10, 48), [15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
  assert.deepEqual(windowLayers("mlp_out", 46, 10, 48), [41, 42, 43, 44, 45, 46, 47]);
  assert.deepEqual(windowLayers("mlp_out", 5, 3, 12), [4, 5, 6]);
  assert.deepEqual(windowLayers("mlp_out", 5, 1, 12), [5]);
  assert.deepEqual(windowLayers("resid", 20, 10, 48), [20]);
});

Deno.test("position groups: ROME's, a one-token subject counts as first and last", () => {
  // t = 8, subject [2, 5): 0 1 are prefix tokens (no group), 2 first, 3 middle, 4 last subject,
  // 5 first subsequent, 6 further, 7 last token.
  const g = Array.from({ length: 8 }, (_, i) => groupsOf(i, 8, [2, 5]));
  assert.deepEqual(g, [
    [],
    [],
    ["first subject token"],
    ["middle subject tokens"],
    ["last subject token"],
    ["first subsequent token"],
    ["further tokens"],
    ["last token"],
  ]);
  assert.deepEqual(groupsOf(3, 6, [3, 4]), ["first subject token", "last subject token"]);
  assert.deepEqual(groupsOf(5, 6, [3, 6]), ["last token"]);
});

Deno.test("averageByGroup: a fact's positions in one group are averaged, then facts", () => {
  const effects = (vals: number[]) => ({
    resid: vals.map((x) => [x, 2 * x]),
    mlp_out: vals.map((x) => [x, x]),
    attn_out: vals.map(() => [0, 0]),
  });
  const traces = [
    {
      tokens: ["a", "b", "c", "d"],
      subject: [0, 3] as [number, number],
      effects: effects([1, 2, 4, 8]),
    },
    { tokens: ["a", "b", "c"], subject: [0, 1] as [number, number], effects: effects([3, 5, 7]) },
  ].map((x) => ({
    ...x,
    answerToken: 0,
    answer: "",
    pClean: 1,
    known: true,
    pCorrupted: 0,
    norms: effects(x.effects.resid.map(([e]) => 10 * e)),
    embedNorms: [],
  }));
  const avg = averageByGroup(traces);
  // The norms are averaged the same way when asked for.
  assert.deepEqual(averageByGroup(traces, (tr) => tr.norms).mlp_out["last subject token"], [
    35,
    35,
  ]);
  // Middle subject tokens: only the first fact has one (position 1, value 2).
  assert.deepEqual(avg.resid["middle subject tokens"], [2, 4]);
  // Last subject token: 4 (fact 1, position 2) and 3 (fact 2, position 0): mean 3.5.
  assert.deepEqual(avg.mlp_out["last subject token"], [3.5, 3.5]);
  assert.deepEqual(avg.mlp_out["last token"], [7.5, 7.5]);
  assert.deepEqual(avg.mlp_out["first subsequent token"], [5, 5]);
  // No fact has a further token: no value, not 0.
  assert.ok(avg.mlp_out["further tokens"].every((x) => Number.isNaN(x)));
});

for (const dir of FIXTURES) {
  const name = dir.split("/").at(-1);
  testBackends(
    `trace (${name}): no answer traces the clean run's most likely token`,
    async (be) => {
      const { model, tokenizer } = await loadModel(dir, be, { tokenizer: true });
      const tok = tokenizer!;
      const opts = { samples: 2, noise: 3, seed: 5 };
      const fact = { prompt: FACT.prompt, subject: FACT.subject };
      const tr = await traceFact(model, tok, fact, opts);
      const ids = tok.encode(FACT.prompt);
      const logits = await tidyAsync(async () => {
        const out = noGrad(() => model.forward(Tensor.fromArray(be, ids, [1, ids.length])));
        return (await out.value.toArray()).slice(-model.config.vocabSize);
      });
      const top = logits.indexOf(Math.max(...logits));
      assert.equal(tr.answerToken, top);
      assert.equal(tr.answer, tok.decode([top]));
      assert.ok(tr.known);
      // Naming that token as the answer gives the same trace.
      const named = await traceFact(model, tok, { ...fact, answer: tr.answer.trim() }, opts);
      assert.deepEqual({ ...named, answer: tr.answer }, tr);
    },
  );
}

for (const dir of FIXTURES) {
  const name = dir.split("/").at(-1);
  testBackends(`trace (${name}): noise after layer 0 equals a direct computation`, async (be) => {
    const { model, tokenizer } = await loadModel(dir, be, { tokenizer: true });
    const tok = tokenizer!;
    const opts = { samples: 2, noise: 3, seed: 5, corruptAt: "layer0" as const };
    const tr = await traceFact(model, tok, FACT, opts);
    const direct = await directTrace(model, tok, 5, "layer0");
    const { t, s0 } = direct;
    const embedNoise = await traceFact(model, tok, FACT, { ...opts, corruptAt: "embed" });
    assert.notEqual(tr.pCorrupted, embedNoise.pCorrupted, "the noise goes elsewhere");
    const L = model.config.nLayers;
    await assertDirect(tr, direct, L);
    // Layer 0's MLP and attention outputs come before the noise: restoring them changes nothing.
    for (const kind of ["mlp_out", "attn_out"] as const) {
      for (let i = 0; i < t; i++) assert.ok(Math.abs(tr.effects[kind][i][0]) < 1e-6);
    }
    // The one-token subject's residual after layer 0 restored: the noise is gone, P is clean.
    assert.ok(Math.abs(tr.effects.resid[s0][0] - (tr.pClean - tr.pCorrupted)) < 1e-5);
  });
}
