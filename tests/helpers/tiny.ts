// Shared pieces of the editing tests (KNE and the baselines): the tiny oracle GPT-2 fixture, edit
// targets from its vocabulary, argmax checks and host copies of the weights.

import type { Backend } from "../../engine/backend.ts";
import { noGrad } from "../../src/autograd/variable.ts";
import type { EditContext, EditTarget } from "../../src/edit/method.ts";
import { editTarget } from "../../src/edit/targets.ts";
import { validateRequests } from "../../src/io/requests.ts";
import { disposeModel } from "../../src/model/build.ts";
import type { CausalLM } from "../../src/model/lm.ts";
import { type LoadedModel, loadModel } from "../../src/pipeline/load.ts";
import { argmaxRows } from "../../src/tensor/ops.ts";
import { Tensor, tidyAsync } from "../../src/tensor/tensor.ts";

export const TINY = new URL("../fixtures/tiny-gpt2", import.meta.url).pathname;

export function target(
  m: LoadedModel,
  prompt: string,
  answer: string,
  subject = prompt,
  index = 0,
): EditTarget {
  const [req] = validateRequests([{ subject, prompt, target_new: answer }], "test");
  return editTarget({ ...req, index }, m.tokenizer!, m.model.config.contextLength, "test");
}

export function ctx(m: LoadedModel): EditContext {
  return { model: m.model, tokenizer: m.tokenizer!, localityPrompts: [] };
}

/** Whether the model's argmax at every target position is the target token. */
export async function predicts(m: LoadedModel, t: EditTarget): Promise<boolean> {
  const ids = t.row.ids;
  const am = await tidyAsync(async () =>
    await argmaxRows(
      noGrad(() => m.model.forward(Tensor.fromArray(m.model.backend, ids, [1, ids.length]))).value,
    ).toArray()
  );
  return t.targetIds.every((tok, j) => am[t.promptIds.length - 1 + j] === tok);
}

export async function weights(m: LoadedModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [n, p] of m.model.params) out.set(n, await p.value.toArray());
  return out;
}

/** Each parameter's bits (an exact comparison that deepEqual can print). */
export async function weightBits(model: CausalLM): Promise<Map<string, Uint32Array>> {
  const out = new Map<string, Uint32Array>();
  for (const [name, p] of model.params) {
    out.set(name, new Uint32Array((await p.value.toArray()).buffer));
  }
  return out;
}

export function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Names of the tensors whose bits differ. */
export function changedTensors(
  before: Map<string, Float32Array>,
  after: Map<string, Float32Array>,
): string[] {
  return [...before].filter(([n, b]) => !sameBits(b, after.get(n)!)).map(([n]) => n);
}

/** Entries that changed, counted over all tensors. */
export function changedEntries(
  before: Map<string, Float32Array>,
  after: Map<string, Float32Array>,
): number {
  let n = 0;
  for (const [name, b] of before) {
    const x = new Uint32Array(b.buffer), y = new Uint32Array(after.get(name)!.buffer);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++;
  }
  return n;
}

export async function withModel(be: Backend, fn: (m: LoadedModel) => Promise<void> | void) {
  const m = await loadModel(TINY, be);
  try {
    await fn(m);
  } finally {
    disposeModel(m.model);
  }
}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}
