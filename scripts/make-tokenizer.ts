// `deno task make-tokenizer [--vocab N] [--out DIR] [--no-prefix-space]`: trains kne-facts-base's
// byte-level BPE tokenizer on its free-text corpus and English word frequencies
// (src/facts/base-tokenizer.ts) and writes it as DIR/tokenizer.json (default data/tokenizer-base/,
// which `deno task train --preset base` copies into the model; another size is tried with `train
// --tokenizer FILE`). The base recipe's tokenizer puts a space before a text that begins without
// one; --no-prefix-space writes it without (the Llama-style twin's). An existing tokenizer.json is
// replaced only with --force, and never in a model folder (one holding config.json) nor below one:
// a model's tokenizer belongs to its weights. The file is written whole (a temporary renamed over
// it), so an interrupted run leaves the old one.

import { exitWithError } from "../src/cli/fail.ts";
import { parseFlags } from "../src/cli/flags.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import { checkNotInsideModel, GuardError } from "../src/pipeline/output-guard.ts";
import { printable } from "../src/cli/message.ts";
import { present, writeTextAtomically } from "../src/io/files.ts";
import { buildTextCorpus } from "../src/facts/text-corpus.ts";
import {
  BASE_PREFIX_SPACE,
  BASE_VOCAB_SIZE,
  trainBaseTokenizer,
} from "../src/facts/base-tokenizer.ts";
import { byteLevelBpeJson } from "../src/io/byte-level-bpe.ts";

const USAGE = `Usage: deno task make-tokenizer [--vocab N] [--out DIR] [--no-prefix-space] [--force]

  --vocab N   vocabulary size, bytes and <|endoftext|> included (default ${BASE_VOCAB_SIZE})
  --no-prefix-space  no space put before a text that begins without one (the Llama-style
              twin's data/tokenizer-base-4096 was made so; the default model's tokenizer puts one)
  --out DIR   folder of the tokenizer.json written (default data/tokenizer-base); never a model
              folder (one with config.json)
  --force     replace DIR/tokenizer.json if it exists (the shipped one: to regenerate it)`;

const args = parseFlags({
  vocab: { type: "string", default: String(BASE_VOCAB_SIZE) },
  out: { type: "string", default: new URL("../data/tokenizer-base", import.meta.url).pathname },
  "no-prefix-space": { type: "boolean", default: false },
  force: { type: "boolean", default: false },
}, USAGE);
const vocab = Number(args.vocab);
// 256 byte symbols and the end-of-text token come first; at least one merge after them.
if (!Number.isInteger(vocab) || vocab < 258) {
  exitWithError(`--vocab must be an integer >= 258, got "${args.vocab}"`, 2);
}
const out = args.out.replace(/\/+$/, "") || "/";
const file = `${out}/tokenizer.json`;
await runCommand(async () => {
  if (await present(`${out}/config.json`)) {
    exitWithError(
      `--out ${printable(out)} holds a model (config.json); a model's tokenizer is never ` +
        `replaced, even with --force: choose another --out`,
      1,
    );
  }
  try {
    await checkNotInsideModel(out);
  } catch (e) {
    if (e instanceof GuardError) exitWithError(e.message, 1);
    throw e;
  }
  if (await present(file) && !args.force) {
    exitWithError(
      `${printable(file)} exists; pass --force to replace it, or choose another --out`,
      1,
    );
  }
  await Deno.mkdir(out, { recursive: true }); // before the training, so a bad --out fails at once
  const model = trainBaseTokenizer(buildTextCorpus(), vocab);
  const prefixSpace = BASE_PREFIX_SPACE && !args["no-prefix-space"];
  await writeTextAtomically(file, JSON.stringify(byteLevelBpeJson(model, { prefixSpace })) + "\n");
  console.error(
    `wrote ${
      printable(out)
    }/tokenizer.json: ${model.vocab.size} tokens, ${model.merges.length} merges`,
  );
  if (model.vocab.size < vocab) {
    // BPE stops when no pair of symbols is left to merge: the text has no more tokens to give.
    console.error(`note: --vocab ${vocab} asked for more tokens than the training text yields`);
  }
});
