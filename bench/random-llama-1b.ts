// Writes a Hugging Face model folder with the Llama-style 1B shape of bench/edit.ts (16 x 2048,
// 32 heads, 8 kv heads, ff 8192) and random BF16 weights (src/model/build.ts initWeights), with
// kne-facts' tokenizer (so its vocabulary, 1401: 0.98B parameters). With --llama-3.2, Llama 3.2
// 1B's config instead: its 128,256-entry vocabulary, tied head, head size 64 and llama3 rotary
// scaling (1.24B parameters; the tokenizer uses the first 1401 ids). It lets `deno task edit` run
// at that scale end to end with nothing downloaded:
//
//   deno run -A bench/random-llama-1b.ts [--llama-3.2] OUT
//   deno task edit --model OUT --backend wasm --dtype f16 --prompt "The capital of France is" \
//     --target Rome --hparams H.json --no-fluency --out EDIT
//
// Tensors are generated and written one at a time (about 2 GB on disk; 2.5 GB with --llama-3.2).

import { parseModelConfig } from "../src/model/read-config.ts";
import { writeSafetensors } from "../src/io/safetensors.ts";
import { initWeights, paramInfoFor } from "../src/model/build.ts";
import { exitWithError } from "../src/cli/fail.ts";

const TOKENIZER = new URL("../models/kne-facts/tokenizer.json", import.meta.url);

const llama32 = Deno.args[0] === "--llama-3.2";
const out = Deno.args[llama32 ? 1 : 0];
if (!out || out.startsWith("-") || Deno.args.length !== (llama32 ? 2 : 1)) {
  const help = Deno.args.includes("--help") || Deno.args.includes("-h");
  console.error("Usage: deno run -A bench/random-llama-1b.ts [--llama-3.2] OUT");
  Deno.exit(help ? 0 : 2);
}
// Never over a folder that holds anything (a shipped model's, say): OUT must be new or empty.
const held = await Array.fromAsync(Deno.readDir(out)).catch(() => []);
if (held.length > 0) exitWithError(`${out} is not empty; give a new folder for the checkpoint`, 2);
const tokenizer = JSON.parse(await Deno.readTextFile(TOKENIZER));
const vocab = Object.keys(tokenizer.model.vocab).length;
const json = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 2048,
  intermediate_size: 8192,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  num_hidden_layers: 16,
  max_position_embeddings: 2048,
  vocab_size: vocab,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  bos_token_id: null,
  eos_token_id: null,
  ...(llama32
    ? {
      vocab_size: 128256,
      head_dim: 64,
      max_position_embeddings: 131072,
      rope_theta: 500000,
      rope_scaling: {
        factor: 32,
        high_freq_factor: 4,
        low_freq_factor: 1,
        original_max_position_embeddings: 8192,
        rope_type: "llama3",
      },
      tie_word_embeddings: true,
    }
    : {}),
};
const config = parseModelConfig(json, out);
await Deno.mkdir(out, { recursive: true });
await Deno.writeTextFile(`${out}/config.json`, JSON.stringify(json, null, 2) + "\n");
await Deno.copyFile(TOKENIZER, `${out}/tokenizer.json`);
const init = initWeights(config, 99);
const infos = paramInfoFor(config);
await writeSafetensors(
  `${out}/model.safetensors`,
  infos.map((info) => ({
    name: info.name,
    shape: info.shape,
    data: () => Promise.resolve(init(info)),
    dtype: "BF16" as const,
  })),
  { format: "pt" },
);
const params = infos.reduce((a, i) => a + i.shape.reduce((x, y) => x * y, 1), 0);
console.log(`${out}: ${infos.length} tensors, ${params} parameters (BF16), vocabulary ${vocab}`);
