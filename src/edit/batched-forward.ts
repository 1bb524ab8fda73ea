// The metrics' teacher-forced forwards, batched: each request's probes (its rephrasings,
// portability and locality probes, the CounterFact answers) are short sequences that one at a
// time make skinny matmuls and thousands of dispatches. Calls made in the same tick (the metrics
// issue a record's probes together) are queued and run as a few padded batches of similar length;
// padding goes at the end, where causal attention hides it from every real position, and only
// the real positions get logits (CausalLM.forward's rows). Batches run one after another, so
// device memory is one batch's at a time.

import { noGrad } from "../autograd/variable.ts";
import type { CausalLM } from "../model/lm.ts";
import { argmaxRows } from "../tensor/ops.ts";
import { Tensor, tidyAsync } from "../tensor/tensor.ts";
import { padBatch } from "./request.ts";

/** Logit floats a batch may hold (16 MB); a sequence longer than that still runs alone. */
export const BATCH_LOGIT_FLOATS = 1 << 22;
/** A batch takes the next (longer) sequence while its padded positions stay within this factor. */
const PADDING_SLACK = 1.25;

export interface BatchedForward {
  /** The argmax token at every position of ids (ties to the lowest id). */
  argmaxes(ids: number[]): Promise<number[]>;
  /** Every position's full logits row, [ids.length * V] (the caller reads what it needs). */
  logits(ids: number[]): Promise<Float32Array>;
}

interface Job {
  ids: number[];
  argmax: boolean;
  resolve(v: number[] | Float32Array): void;
  reject(e: unknown): void;
}

/**
 * Sequences sorted by length, cut into batches: a batch grows while its padded positions stay
 * within PADDING_SLACK of its real ones and its real positions within `maxPositions` (a single
 * sequence always fits). Returns indices into `lengths`.
 */
export function lengthBatches(lengths: readonly number[], maxPositions: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b]);
  const out: number[][] = [];
  let batch: number[] = [], real = 0;
  for (const i of order) {
    const n = lengths[i];
    const padded = (batch.length + 1) * n;
    if (batch.length > 0 && (padded > PADDING_SLACK * (real + n) || real + n > maxPositions)) {
      out.push(batch);
      batch = [], real = 0;
    }
    batch.push(i);
    real += n;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

export function batchedForward(model: CausalLM): BatchedForward {
  const be = model.backend;
  const V = model.config.vocabSize;
  const ctx = model.config.contextLength;
  const maxPositions = Math.max(1, Math.floor(BATCH_LOGIT_FLOATS / V));
  let queue: Job[] = [];
  let chain: Promise<void> = Promise.resolve();

  /** One padded batch of jobs of one kind: argmax ids, or logits rows, per real position. */
  const runBatch = (jobs: Job[], argmax: boolean) =>
    tidyAsync(async () => {
      const { ids, t } = padBatch(jobs.map((j) => ({ ids: j.ids, targets: [] })));
      const rows = jobs.flatMap((j, b) => j.ids.map((_, i) => b * t + i));
      const logits = noGrad(() =>
        model.forward(
          Tensor.fromArray(be, ids, [jobs.length, t]),
          undefined,
          undefined,
          Tensor.fromArray(be, rows, [rows.length]),
        )
      ).value;
      const out = argmax ? Array.from(await argmaxRows(logits).toArray()) : await logits.toArray();
      let at = 0;
      for (const j of jobs) {
        const n = j.ids.length;
        j.resolve(argmax ? out.slice(at, at + n) : out.slice(at * V, (at + n) * V));
        at += n;
      }
    });

  const flush = async (jobs: Job[]) => {
    // Argmax-only batches read one id per position; the others read their logits.
    for (const argmax of [true, false]) {
      const kind = jobs.filter((j) => j.argmax === argmax);
      for (const batch of lengthBatches(kind.map((j) => j.ids.length), maxPositions)) {
        const list = batch.map((i) => kind[i]);
        try {
          await runBatch(list, argmax);
        } catch (e) {
          for (const j of list) j.reject(e);
        }
      }
    }
  };

  const submit = (ids: number[], argmax: boolean) =>
    new Promise<number[] | Float32Array>((resolve, reject) => {
      // Refused here, before it could fail the batch it would join.
      if (ids.length === 0) throw new RangeError("a forward of no tokens");
      if (ids.length > ctx) {
        throw new RangeError(`${ids.length} tokens do not fit the model's context of ${ctx}`);
      }
      queue.push({ ids, argmax, resolve, reject });
      if (queue.length > 1) return;
      // The first call of a tick schedules the flush; the tick's other calls join it.
      queueMicrotask(() => {
        const jobs = queue;
        queue = [];
        chain = chain.then(() => flush(jobs));
      });
    });

  return {
    argmaxes: (ids) => submit(ids, true) as Promise<number[]>,
    logits: (ids) => submit(ids, false) as Promise<Float32Array>,
  };
}
