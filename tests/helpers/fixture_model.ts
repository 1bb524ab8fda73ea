// A tiny fixture model built straight from its safetensors, bypassing the pipeline's loader and its
// load-time memory check: for tests that run it on backends with lowered limits.

import type { Backend } from "../../engine/backend.ts";
import { openSafetensors } from "../../src/io/safetensors.ts";
import { buildModel } from "../../src/model/build.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { readModelConfig } from "../../src/model/read-config.ts";

/** The tiny models of the torch oracle (tests/oracle/make_fixtures.py), one per layer form. */
export const ORACLE_FIXTURES = [
  "tiny-gpt2",
  "tiny-gpt2-gelu",
  "tiny-llama",
  "tiny-llama3",
  "tiny-qwen3",
  "tiny-neox",
  "tiny-neox-seq",
  "tiny-gptj",
  "tiny-gemma",
  "tiny-gemma2",
  "tiny-gemma3",
] as const;

/** Builds the fixture model `name` (tests/fixtures/NAME) on `be`. */
export async function loadFixture(name: string, be: Backend): Promise<CausalLM> {
  const dir = new URL(`../fixtures/${name}`, import.meta.url).pathname;
  const config = await readModelConfig(dir);
  const file = await openSafetensors(`${dir}/model.safetensors`);
  const w = new Map<string, Float32Array>();
  try {
    for (const n of file.tensors.keys()) w.set(n, await file.read(n));
  } finally {
    file.close();
  }
  return buildModel(
    config,
    be,
    (info) => w.get(info.name) ?? w.get(info.name.replace(/^transformer\./, "")),
  );
}
