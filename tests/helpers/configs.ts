// Model configs of real shapes that tests plan for without any weights.

import { parseModelConfig } from "../../src/model/read-config.ts";

/** Llama-2-7B's shape (config.json fields as Hugging Face ships them). */
export const LLAMA_7B = parseModelConfig({
  architectures: ["LlamaForCausalLM"],
  hidden_size: 4096,
  intermediate_size: 11008,
  num_attention_heads: 32,
  num_key_value_heads: 32,
  num_hidden_layers: 32,
  max_position_embeddings: 4096,
  vocab_size: 32000,
}, "7b");
