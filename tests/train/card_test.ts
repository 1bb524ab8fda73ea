// The model card: the base model's targets table says met or not met against each target, and
// `deno task card` rewrites a card from a training summary, naming the machine (a blank one is
// refused) and the tokenizer's prefix space, and refuses a file that is not one (and a folder
// without one, such as an edit's OUT/model/, as not trained by this project); --rescore measures
// recall again, as training did, and keeps training's figures on the card. Every shipped card is
// exactly what the command writes from its recall.json (formatted as `deno fmt` formats it, so
// regenerating a card leaves the tree passing `deno fmt --check`).

import assert from "node:assert/strict";
import {
  BASE_TARGETS,
  summaryProblem,
  targetsTable,
  type TrainSummary,
  upgradeSummary,
} from "../../src/train/card.ts";
import type { RecallReport } from "../../src/train/recall.ts";

const CARD = new URL("../../scripts/card.ts", import.meta.url).pathname;

const score = (whole: number): RecallReport => ({
  n: 10,
  firstToken: whole,
  whole,
  byRelation: {},
});

Deno.test("card: each target is met only at or above its figure", () => {
  const table = targetsTable({
    train_facts: score(0.98),
    heldout_templates: score(0.899),
    two_hop: score(0.61),
  });
  const line = (name: string) => table.split("\n").find((l) => l.startsWith(`| ${name} |`))!;
  assert.match(line("train_facts"), /\| 98\.0 \| 98\.0 \| met \|/);
  assert.match(line("heldout_templates"), /\| 89\.9 \| 90\.0 \| \*\*not met\*\* \|/);
  assert.match(line("two_hop"), /\| 61\.0 \| 60\.0 \| met \|/);
  assert.match(line("aliases"), /\| - \| 90\.0 \| not measured \|/);
  assert.equal(Object.keys(BASE_TARGETS).length, 4);
});

Deno.test("card: every shipped model's recall.json is a training summary", async () => {
  for (const model of ["kne-facts", "kne-facts-base", "kne-facts-base-llama"]) {
    const file = new URL(`../../models/${model}/recall.json`, import.meta.url);
    const summary = upgradeSummary(JSON.parse(await Deno.readTextFile(file)));
    assert.equal(summaryProblem(summary), null, model);
  }
});

/** A card's text with every run of white space made one space (cards wrap and pad tables). */
const flat = (text: string) => text.replace(/\s+/g, " ");

async function card(args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CARD, ...args],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

Deno.test("card: every shipped card is what deno task card writes from its recall.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const model of ["kne-facts", "kne-facts-base", "kne-facts-base-llama"]) {
      const folder = new URL(`../../models/${model}/`, import.meta.url);
      for (const f of ["recall.json", "tokenizer.json"]) {
        await Deno.copyFile(new URL(f, folder), `${dir}/${f}`);
      }
      const r = await card(["--model", dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        await Deno.readTextFile(`${dir}/README.md`),
        await Deno.readTextFile(new URL("README.md", folder)),
        `models/${model}/README.md differs from what deno task card writes`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("card: deno task card rewrites README.md from recall.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const summary: TrainSummary = {
      command: "deno task train --preset base",
      seconds: 4500,
      steps: 1820,
      epochs: 28,
      tokens: 3_700_000,
      tokensPerSecond: 822,
      finalLoss: 0.7,
      params: 7_399_936,
      rows: 1028,
      unit: "128-token windows",
      preset: "base",
      samples: [["The capital of France is", " Paris."]],
      backend: "WebAssembly SIMD (2 threads)",
      recall: { train_facts: score(0.99), two_hop: score(0.5) },
      config: {
        nLayers: 8,
        dModel: 256,
        nHeads: 8,
        contextLength: 128,
        vocabSize: 4096,
        dFF: 1024,
      },
    };
    await Deno.writeTextFile(`${dir}/recall.json`, JSON.stringify(summary));
    await Deno.copyFile(
      new URL("../../data/tokenizer-base/tokenizer.json", import.meta.url),
      `${dir}/tokenizer.json`,
    );
    const r = await card(["--model", dir, "--machine", "a 2-core test machine"]);
    assert.equal(r.code, 0, r.stderr);
    const text = flat(await Deno.readTextFile(`${dir}/README.md`));
    assert.match(text, /# kne-facts-base/);
    assert.match(text, /A text that begins without a space is given one/);
    assert.match(text, /WebAssembly SIMD \(2 threads\) \(a 2-core test machine\)/);
    assert.match(text, /\| two_hop \| 50\.0 \| 60\.0 \| \*\*not met\*\* \|/);
    assert.match(text, /- \*\*The capital of France is\*\* Paris\./);
    // A blank --machine is refused (it was ignored without a word), nothing rewritten.
    const written = await Deno.readTextFile(`${dir}/recall.json`);
    const card0 = await Deno.readTextFile(`${dir}/README.md`);
    for (const blank of ["", "  "]) {
      const r = await card(["--model", dir, "--machine", blank]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^error: --machine must not be empty: it says what the model was/);
      assert.equal(await Deno.readTextFile(`${dir}/recall.json`), written);
      assert.equal(await Deno.readTextFile(`${dir}/README.md`), card0);
    }

    await Deno.writeTextFile(`${dir}/recall.json`, JSON.stringify({ train_facts: score(1) }));
    const bad = await card(["--model", dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /recall\.json: field "command" is missing/);
    // Fields of the wrong type are refused by name, before the card is written (they used to
    // reach it: "null" ended in a stack trace, a string of seconds in one from toFixed).
    await Deno.remove(`${dir}/README.md`);
    for (
      const [file, why] of [
        [null, /not a JSON object/],
        [{ ...summary, seconds: "4500" }, /field "seconds" is missing or not a number/],
        [{ ...summary, recall: { two_hop: { n: 1 } } }, /field "recall\.two_hop" .*recall report/],
        [{ ...summary, samples: [["a"]] }, /field "samples"/],
      ] as const
    ) {
      await Deno.writeTextFile(`${dir}/recall.json`, JSON.stringify(file));
      const r = await card(["--model", dir]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, why);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      assert.equal(await Deno.stat(`${dir}/README.md`).then(() => true, () => false), false);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("card: a model folder without recall.json is said not to be one trained here", async () => {
  // An edit's OUT/model/ (config, tokenizer, weights): the card used to say "cannot read
  // recall.json", as if a file had gone missing.
  const dir = await Deno.makeTempDir();
  try {
    for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) {
      await Deno.copyFile(new URL(`../fixtures/tiny-gpt2/${f}`, import.meta.url), `${dir}/${f}`);
    }
    const r = await card(["--model", `${dir}/`]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      `error: ${dir} is not a model trained by this project: it has no recall.json (the ` +
        `training summary its card is written from)\n`,
    );
    assert.equal(await Deno.stat(`${dir}/README.md`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("card: --rescore measures recall again as training did and keeps training's figures", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = new URL("../../models/kne-facts/", import.meta.url);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "recall.json"]) {
      await Deno.copyFile(new URL(f, model), `${dir}/${f}`);
    }
    const trained = JSON.parse(await Deno.readTextFile(`${dir}/recall.json`));
    const r = await card(["--model", dir, "--rescore"]);
    assert.equal(r.code, 0, r.stderr);
    const again = JSON.parse(await Deno.readTextFile(`${dir}/recall.json`));
    // The same weights and tokenizer score every probe as training's own recall did.
    assert.deepEqual(again.recall, trained.recall);
    const whole = Object.fromEntries(
      Object.entries(trained.recall as Record<string, RecallReport>).map(([n, x]) => [n, x.whole]),
    );
    assert.deepEqual(again.rescored.trainedRecall, whole);
    assert.equal(again.rescored.command, `deno task card --model ${dir} --rescore`);
    assert.equal(summaryProblem(again), null);
    const text = flat(await Deno.readTextFile(`${dir}/README.md`));
    assert.match(text, /Measured again on \d{4}-\d\d-\d\d with this folder's tokenizer\.json/);
    assert.match(
      text,
      /at the end of training, whole answer: train_facts 100\.0, heldout_templates 99\.8/,
    );
    // A second rescore keeps the figures from the end of training, not the first rescore's.
    again.rescored.trainedRecall.train_facts = 0.5;
    await Deno.writeTextFile(`${dir}/recall.json`, JSON.stringify(again));
    assert.equal((await card(["--model", dir, "--rescore"])).code, 0);
    const third = JSON.parse(await Deno.readTextFile(`${dir}/recall.json`));
    assert.equal(third.rescored.trainedRecall.train_facts, 0.5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
