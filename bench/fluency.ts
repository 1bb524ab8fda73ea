// Fluency sampling (the KnowEdit fluency metric: 100 tokens, top-5) of the first N request
// prompts, timed through the edit pipeline's KV-cached generation (src/edit/eval-model.ts) and
// through the metrics' one-forward-per-token loop, on the same model; checks that both sample the
// same tokens. The model is the default one and the requests its test split unless told otherwise;
// a missing folder or a bad request file ends it with one error line.
// deno task bench:fluency [--model DIR] [--requests FILE] [--n N]

import { createBackend } from "../engine/select.ts";
import { evalModel } from "../src/edit/eval-model.ts";
import { fluency } from "../src/eval/fluency.ts";
import { loadRequests } from "../src/io/requests.ts";
import { loadModel } from "../src/pipeline/load.ts";
import { DEFAULT_MODEL, splitsOf } from "../src/pipeline/models.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import { benchFlags } from "./flags.ts";

const args = benchFlags(["model", "requests", "n"], Deno.args, {
  usage: "deno task bench:fluency [--model DIR] [--requests FILE] [--n N]",
  values: ["model", "requests", "n"],
});
const modelDir = args.get("model") ?? DEFAULT_MODEL;
const values = {
  model: modelDir,
  requests: args.get("requests") ?? splitsOf(modelDir).test,
  n: args.int("n", 100, 1),
};
await runCommand(async () => {
  const be = await createBackend("wasm");
  const { model, tokenizer } = await loadModel(values.model, be, { tokenizer: true });
  const cached = evalModel(model, tokenizer!);
  const { generate: _, ...perToken } = cached;
  const prompts = (await loadRequests(values.requests)).slice(0, values.n).map((r) => r.prompt);
  const time = async (m: typeof cached) => {
    const t0 = performance.now();
    const texts = [];
    for (const [i, p] of prompts.entries()) texts.push((await fluency(m, p, { seed: i })).text);
    return { seconds: (performance.now() - t0) / 1000, texts };
  };
  const slow = await time(perToken);
  const fast = await time(cached);
  const same = slow.texts.every((t, i) => t === fast.texts[i]);
  console.log(JSON.stringify({
    model: values.model,
    contextLength: model.config.contextLength,
    prompts: prompts.length,
    perTokenSeconds: Number(slow.seconds.toFixed(2)),
    cachedSeconds: Number(fast.seconds.toFixed(2)),
    speedup: Number((slow.seconds / fast.seconds).toFixed(2)),
    sameTexts: same,
  }));
  await be.dispose();
});
