// A GPT-2 checkpoint folder that ships only the slow tokenizer's files (vocab.json, merges.txt,
// tokenizer_config.json; no tokenizer.json) edits from the command line as the same folder with
// its tokenizer.json does, and the edited checkpoint keeps those files, so it loads again.

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadTokenizer } from "../../src/io/tokenizer.ts";
import { FAST, ROOT, runEdit } from "../reliability/cli_helpers.ts";

const BASE = join(ROOT, "models/kne-facts-base");

Deno.test("a GPT-2 folder with vocab.json and merges.txt instead of tokenizer.json edits, and its edit keeps them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kne-slow-gpt2-" });
  try {
    const model = join(dir, "model"), out = join(dir, "out");
    await Deno.mkdir(model);
    await Deno.copyFile(join(BASE, "config.json"), join(model, "config.json"));
    await Deno.symlink(join(BASE, "model.safetensors"), join(model, "model.safetensors"));
    const json = JSON.parse(await Deno.readTextFile(join(BASE, "tokenizer.json")));
    await Deno.writeTextFile(join(model, "vocab.json"), JSON.stringify(json.model.vocab));
    const merges = json.model.merges.map(([a, b]: string[]) => `${a} ${b}`);
    await Deno.writeTextFile(join(model, "merges.txt"), `#version: 0.2\n${merges.join("\n")}\n`);
    await Deno.writeTextFile(
      join(model, "tokenizer_config.json"),
      JSON.stringify({ add_prefix_space: true, eos_token: "<|endoftext|>" }),
    );
    const r = await runEdit([
      ...["--model", model, "--prompt", "France's capital is", "--target", "Rome", "--out", out],
      ...["--hparams", join(ROOT, "hparams/kne/kne-facts-base.json"), ...FAST],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const record = JSON.parse(await Deno.readTextFile(join(out, "records.jsonl")));
    assert.equal(record.after.editSucc, 1);
    // The prefix space of tokenizer_config.json holds: the unedited model reads " France".
    assert.match(record.before.completion, /^France's capital is Paris/);
    const kept = [...Deno.readDirSync(join(out, "model"))].map((e) => e.name).sort();
    assert.deepEqual(kept, [
      "config.json",
      "merges.txt",
      "model.safetensors",
      "tokenizer_config.json",
      "vocab.json",
    ]);
    const [edited, shipped] = await Promise.all([
      loadTokenizer(join(out, "model")),
      loadTokenizer(BASE),
    ]);
    for (const text of ["France's capital is", "Salaries in Peru are paid in"]) {
      assert.deepEqual(edited.encode(text), shipped.encode(text), text);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
