// Fuzzing of the inputs not already fuzzed in tests/io (safetensors files, request files and
// hparams are: see tests/io/safetensors_test.ts and tests/io/requests_test.ts). Each suite runs in
// a Worker under a watchdog (fuzz_harness.ts), so every case is bounded in time (a hang fails
// with its input) and in memory (growth over 256 MB fails: a declared huge size is never
// allocated):
//   config.json   random JSON, mutated fixture configs (GPT-2, Llama, Mistral, Qwen2, Qwen3,
//                 GPT-NeoX, GPT-J, Gemma 1-3) and byte mutations of their text: parseModelConfig /
//                 readModelConfig return a sane config (positive sizes, heads that divide,
//                 token ids in the vocabulary) whose memory plan is finite arithmetic, or throw
//                 ConfigError, nothing else;
//   tokenizer     mutated tokenizer.json (WordPiece fixtures, a BPE and a Unigram one: model
//                 types, huge/negative ids, ReDoS split/replace patterns, broken added tokens,
//                 random tokenizer_config.json, byte mutations): loadTokenizer returns or throws
//                 TokenizerError, never hangs, and a loaded tokenizer encodes a sentence to ids
//                 inside its vocabulary in bounded time;
//   patch         mutated sparse patches (metadata shapes hostile/huge/negative, indices out of
//                 range or repeated, tensors dropped/retyped/shortened, byte mutations): readPatch
//                 returns entries whose indices are in range and strictly ascending, or throws
//                 SafetensorsError; applyPatchTo applies exactly (apply then revert is the
//                 identity) or refuses with SafetensorsError having written nothing;
//   patch apply   hand-built entries with out-of-range indices are refused, nothing written;
//   args          random edit command lines: parseEditArgs accepts only consistent ones or
//                 throws UsageError.

import assert from "node:assert/strict";
import { FUZZ } from "./counts.ts";
import { fuzzSeed, runFuzz } from "./fuzz_harness.ts";

const SUITES: [string, number][] = [
  ["config", 3000],
  ["tokenizer", 2000],
  ["patch", 2000],
  ["patch apply range", 1000],
  ["args", 5000],
];

for (const [suite, numRuns] of SUITES) {
  Deno.test({
    name: `fuzz ${suite}: only typed errors, bounded time and memory (${numRuns} runs)`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const r = await runFuzz(suite, { numRuns, seed: fuzzSeed() });
      assert.equal(r.numRuns, numRuns);
      console.log(`${suite}: seed ${r.seed}, outcomes ${JSON.stringify(r.outcomes)}`);
      FUZZ.add(suite, r.cases);
    },
  });
}
