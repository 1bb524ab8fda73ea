// A test fixture model loaded for one test, and the logits and every parameter's gradient of one
// seeded scalar of a forward: what the tests comparing two ways of running a forward (checkpointed
// layers, a start at a layer) compare bit for bit.

import type { Backend } from "../../engine/backend.ts";
import * as A from "../../src/autograd/ops.ts";
import { backward } from "../../src/autograd/variable.ts";
import { disposeModel } from "../../src/model/build.ts";
import type { CausalLM, LayerStart } from "../../src/model/lm.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

/** Runs `fn` on the fixture model `name` (no tokenizer), disposed afterwards. */
export async function withFixture(
  be: Backend,
  name: string,
  fn: (m: CausalLM) => Promise<void>,
): Promise<void> {
  const { model } = await loadModel(fixture(name), be, { tokenizer: false });
  try {
    await fn(model);
  } finally {
    disposeModel(model);
  }
}

/**
 * The logits of `model` on token ids `ids` [batch, t] (at `rows` only, from `start` if given)
 * under "logits", and every parameter's gradient of sum(logits * seed) under its name (empty
 * where none arrives); the gradients are cleared afterwards.
 */
export async function logitsAndGradients(
  model: CausalLM,
  ids: Tensor,
  rows?: readonly number[],
  start?: LayerStart,
): Promise<Map<string, Float32Array>> {
  const be = model.backend;
  const out = new Map<string, Float32Array>();
  await tidyAsync(async () => {
    const rowT = rows ? Tensor.fromArray(be, rows, [rows.length]) : undefined;
    const logits = model.forward(ids, undefined, undefined, rowT, start);
    const seed = Float32Array.from({ length: logits.value.size }, (_, i) => Math.sin(i));
    out.set("logits", await logits.value.toArray());
    backward(
      A.dot(A.reshape(logits, [logits.value.size]), Tensor.fromArray(be, seed, [seed.length])),
    );
  });
  for (const [n, p] of model.params) {
    out.set(n, p.grad ? await p.grad.toArray() : new Float32Array(0));
    p.zeroGrad();
  }
  return out;
}
