// ROME on the tiny oracle GPT-2: the edit makes the target the argmax, changes only the chosen
// layer's FFN output projection, and that change (after minus before) has rank one; a subject
// missing from the prompt falls back to the last prompt token and says so; the FFN key second
// moment matches a float64 host computation, its pass reports progress (a step per forward
// batch, ROME's phase "rome covariance", none when the statistics are in memory), and it is cached
// on disk (outside the model folder) keyed by the weights, the texts and the layer. On the tiny
// Gemma 2, whose FFN output is normalised before the residual add, the edit moves the output its
// "mlp_out" hook reads (down_proj's) by exactly the delta its value search found there.

import { captureRows } from "../../src/methods/capture.ts";
import { keyCovariance, keyMoments } from "../../src/methods/covariance.ts";
import { cacheDir } from "../../src/methods/covariance-host-deno.ts";
import { topSingularValues } from "../../src/methods/linalg.ts";
import { ROME_DEFAULTS, type RomeHparams } from "../../src/methods/rome/hparams.ts";
import { romeMethod } from "../../src/methods/rome/method.ts";
import { subjectLastToken } from "../../src/methods/subject.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { disposeModel } from "../../src/model/build.ts";
import { testBackends } from "../helpers/backends.ts";
import {
  assert,
  changedTensors,
  ctx,
  predicts,
  target,
  TINY,
  weights,
  withModel,
} from "../helpers/tiny.ts";

const HP: RomeHparams = { ...ROME_DEFAULTS };

testBackends("ROME makes the target the argmax with a rank-one change of one layer", async (be) => {
  await withModel(be, async (m) => {
    for (
      const [prompt, answer, subject] of [
        ["The capital of France", "Tokyo", "France"],
        ["The language of Japan", "Cairo", "Japan"],
      ]
    ) {
      const t = target(m, prompt, answer, subject);
      assert(!(await predicts(m, t)), "the fixture already predicts the target");
      const before = await weights(m);
      const r = await romeMethod.apply(ctx(m), [t], HP);
      assert(!r.rolledBack, "rolled back");
      assert(await predicts(m, t), `"${prompt}" does not predict "${answer}" after ROME`);
      const after = await weights(m);
      const name = "transformer.h.0.mlp.c_proj.weight";
      const changed = changedTensors(before, after);
      assert(changed.length === 1 && changed[0] === name, `changed ${changed.join(", ")}`);
      const [rows, cols] = m.model.params.get(name)!.shape;
      const a = after.get(name)!, b = before.get(name)!;
      const diff = Float64Array.from(a, (x, i) => x - b[i]);
      const [s1, s2] = topSingularValues(diff, rows, cols);
      assert(s1 > 0 && s2 / s1 < 1e-4, `the update is not rank one: s2/s1 = ${s2 / s1}`);
      // Undo for the next prompt.
      be.upload(m.model.params.get(name)!.value.buffer, b);
    }
  });
});

testBackends(
  "ROME uses the last prompt token when the subject is not in the prompt",
  async (be) => {
    await withModel(be, async (m) => {
      const t = target(m, "The capital of France", "Tokyo", "Narnia");
      const r = await romeMethod.apply(ctx(m), [t], { ...HP, contextTemplates: 0 });
      const edit = (r.artifacts.rome as {
        edits: { subject: { found: boolean; index: number; note: string } }[];
      })
        .edits[0];
      assert(!edit.subject.found, "a missing subject was reported found");
      assert(edit.subject.index === t.promptIds.length - 1, "not the last prompt token");
      assert(/not found/.test(edit.subject.note), "the artefact does not say so");
      assert(await predicts(m, t), "the fallback edit did not work");
    });
  },
);

testBackends(
  "ROME on Gemma 2 moves the FFN output its hook reads, before the post-FFN norm, by the delta",
  async (be) => {
    // Gemma 2 normalises the FFN output before adding it to the stream. ROME's value search adds
    // its delta at "mlp_out" and its closed form maps the prompt's key to v0 + delta through
    // down_proj: the two meet only if "mlp_out" is down_proj's output, before that norm.
    const dir = new URL("../fixtures/tiny-gemma2", import.meta.url).pathname;
    const m = await loadModel(dir, be);
    try {
      const layer = 1;
      const t = target(m, "The capital of France", "Tokyo", "France");
      const subject = subjectLastToken(m.tokenizer!, t.request.prompt, t.promptIds, "France");
      assert(subject.found, "the subject is not in the prompt");
      const ids = t.row.ids;
      const read = async () =>
        (await captureRows(m.model, ids, 1, ids.length, [
          { layer, site: "mlp_out", rows: [subject.index] },
        ]))[0][0];
      const v0 = await read();
      const r = await romeMethod.apply(ctx(m), [t], { ...HP, layer });
      assert(!r.rolledBack, "rolled back");
      const edit = (r.artifacts.rome as { edits: { deltaNorm: number; v0Norm: number }[] })
        .edits[0];
      const v1 = await read();
      const moved = Math.hypot(...v1.map((x, i) => x - v0[i]));
      assert(edit.deltaNorm > 0.1 * edit.v0Norm, `a delta too small to tell: ${edit.deltaNorm}`);
      assert(
        Math.abs(Math.hypot(...v0) - edit.v0Norm) <= 1e-5 * edit.v0Norm,
        `v0: ${Math.hypot(...v0)} read, ${edit.v0Norm} in the value search`,
      );
      assert(
        Math.abs(moved - edit.deltaNorm) <= 1e-3 * edit.deltaNorm,
        `the edit moved "mlp_out" by ${moved}, the delta is ${edit.deltaNorm}`,
      );
    } finally {
      disposeModel(m.model);
    }
  },
);

testBackends("the FFN key second moment matches a float64 host computation", async (be) => {
  await withModel(be, async (m) => {
    const tok = m.tokenizer!;
    const texts = ["The capital of France is Paris .", "The capital of Spain is Madrid", "Rome"];
    const seqs = texts.map((x) => tok.encode(x));
    const { moments, count } = await keyMoments(m.model, [0, 1], seqs, 8);
    const n = m.model.config.dFF;
    assert(count === seqs.reduce((s, x) => s + x.length, 0), "key count");
    for (const layer of [0, 1]) {
      const want = new Float64Array(n * n);
      for (const ids of seqs) {
        const [keys] = await captureRows(m.model, ids, 1, ids.length, [
          { layer, site: "mlp_key", rows: ids.map((_, i) => i) },
        ]);
        for (const k of keys) {
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) want[i * n + j] += k[i] * k[j];
        }
      }
      const got = moments.get(layer)!;
      let maxAbs = 0;
      for (const x of want) maxAbs = Math.max(maxAbs, Math.abs(x / count));
      for (let i = 0; i < n * n; i++) {
        const err = Math.abs(got[i] - want[i] / count);
        assert(err <= 1e-4 * maxAbs, `layer ${layer} entry ${i}: ${got[i]} vs ${want[i] / count}`);
      }
    }
  });
});

testBackends("the key statistics' pass reports each forward batch as a step", async (be) => {
  await withModel(be, async (m) => {
    const ids = m.tokenizer!.encode("The capital of France is Paris .");
    assert(ids.length >= 5, "the fixture text is too short");
    // Five rows of 3 tokens, two per batch of 6 tokens: 3 batches; two rows of 5, one each: 2.
    const seqs = [...Array(5).fill(ids.slice(0, 3)), ...Array(2).fill(ids.slice(0, 5))];
    const steps: [number, number][] = [];
    await keyMoments(m.model, [1], seqs, 6, (step, of) => steps.push([step, of]));
    const want = [[1, 5], [2, 5], [3, 5], [4, 5], [5, 5]];
    assert(JSON.stringify(steps) === JSON.stringify(want), `steps ${JSON.stringify(steps)}`);
  });
});

testBackends("ROME reports its key statistics' pass as progress, once per model", async (be) => {
  await withModel(be, async (m) => {
    const t = target(m, "The capital of France", "Tokyo", "France");
    // The requests' own prompts: never in the disk cache, so the first edit computes them.
    const hp = { ...HP, covTexts: "prompts" };
    const covariance = async () => {
      const steps: [number, number][] = [];
      await romeMethod.apply(
        {
          ...ctx(m),
          onProgress: (p) => p.phase === "rome covariance" && steps.push([p.step, p.of]),
        },
        [t],
        hp,
      );
      return steps;
    };
    const first = await covariance();
    assert(first.length > 0, "no progress for the key statistics");
    assert(
      first.every(([step, of], i) => step === i + 1 && of === first.length),
      `steps ${JSON.stringify(first)}`,
    );
    assert((await covariance()).length === 0, "statistics in memory were computed again");
  });
});

testBackends("key statistics are cached on disk by weights, texts and layer", async (be) => {
  const dir = await Deno.makeTempDir({ prefix: "kne-cov-" });
  const prev = Deno.env.get("KNE_CACHE_DIR");
  Deno.env.set("KNE_CACHE_DIR", `${dir}/cache`);
  try {
    const textFile = `${dir}/texts.txt`;
    await Deno.writeTextFile(
      textFile,
      "The capital of France is Paris .\nThe capital of Spain is Madrid .\nnot@known#words\n",
    );
    assert(cacheDir() === `${dir}/cache`, "KNE_CACHE_DIR not honoured");
    const opts = { texts: textFile, maxTexts: 100, prompts: [] };
    const m1 = await loadModel(TINY, be);
    const m2 = await loadModel(TINY, be);
    try {
      const a = (await keyCovariance(m1.model, m1.tokenizer!, [1], opts)).get(1)!;
      assert(!a.cached && a.file !== null, "first computation reported cached");
      assert(a.texts === 2, `texts with unknown words were not skipped (${a.texts})`);
      const files = [...Deno.readDirSync(`${dir}/cache`)].map((e) => e.name);
      assert(files.includes(".gitignore"), "the cache folder is not git-ignored");
      assert(files.some((f) => f.endsWith("-L1.f64")), `no cache file: ${files.join(", ")}`);
      const b = (await keyCovariance(m2.model, m2.tokenizer!, [1], opts)).get(1)!;
      assert(b.cached, "a second model with the same weights did not hit the disk cache");
      assert(b.moment.every((x, i) => x === a.moment[i]), "cached moment differs");
      // Other weights: another key, no hit.
      const p = m2.model.params.get("transformer.h.0.mlp.c_fc.weight")!;
      const w = await p.value.toArray();
      w[0] += 1;
      be.upload(p.value.buffer, w);
      const m3 = await loadModel(TINY, be);
      try {
        const w3 = m3.model.params.get("transformer.h.0.mlp.c_fc.weight")!;
        be.upload(w3.value.buffer, w);
        const c = (await keyCovariance(m3.model, m3.tokenizer!, [1], opts)).get(1)!;
        assert(!c.cached && c.file !== a.file, "changed weights hit the old cache entry");
      } finally {
        disposeModel(m3.model);
      }
    } finally {
      disposeModel(m1.model);
      disposeModel(m2.model);
    }
  } finally {
    if (prev === undefined) Deno.env.delete("KNE_CACHE_DIR");
    else Deno.env.set("KNE_CACHE_DIR", prev);
    await Deno.remove(dir, { recursive: true });
  }
});
