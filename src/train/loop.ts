// The training loop: next-token loss on a batch, backward, one AdamW update at the scheduled
// learning rate (linear warmup, then a cosine down to a tenth), the loop state advanced, and a
// checkpoint every few steps and when asked to stop, so that a run resumes where it saved.

import type { Adam } from "../autograd/adam.ts";
import { backward } from "../autograd/variable.ts";
import { lmLoss } from "../model/loss.ts";
import type { CausalLM } from "../model/lm.ts";
import { tidyAsync } from "../tensor/tensor.ts";
import type { TrainState } from "./checkpoint.ts";
import type { BatchSource } from "./data.ts";

export interface Schedule {
  lr: number;
  warmup: number;
  totalSteps: number;
}

/** The learning rate at `step`: linear warmup to `lr`, then a cosine from `lr` to `lr / 10`. */
export function learningRate(step: number, s: Schedule): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  const p = (step - s.warmup) / Math.max(1, s.totalSteps - s.warmup);
  return s.lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, p))));
}

export interface LoopOptions {
  batch: number;
  schedule: Schedule;
  ckptEvery: number;
  /** Writes a checkpoint of the model, the optimizer and `state`. */
  save: (state: TrainState) => Promise<void>;
  /**
   * Asked before each step; true ends the loop, with the state checkpointed once (also when no
   * step ran since the last checkpoint, so that a stopped run can always resume).
   */
  stopRequested: () => boolean;
  /** After each step, with the loss's moving average and the run's seconds so far. */
  onStep?: (state: TrainState, lossAvg: number, seconds: number) => void;
}

export class DivergedError extends Error {
  override name = "DivergedError";
}

/**
 * Trains from `state` (mutated as it goes; `state.seconds` counts the earlier runs' time too)
 * until `schedule.totalSteps` or a stop request. Returns the loss's moving average (0.98 decay),
 * of which every 50th step is kept in `state.losses`. Throws DivergedError on a non-finite loss,
 * leaving the last checkpoint as it was.
 */
export async function trainSteps(
  model: CausalLM,
  opt: Adam,
  source: BatchSource,
  state: TrainState,
  o: LoopOptions,
): Promise<number> {
  const t0 = performance.now() - state.seconds * 1000;
  const seconds = () => (performance.now() - t0) / 1000;
  let lossAvg = state.losses.at(-1) ?? NaN;
  let savedAt = -1;
  const save = async () => {
    state.seconds = seconds();
    await o.save(state);
    savedAt = state.step;
  };
  // A step's awaits settle as microtasks on the WASM backend, so a Ctrl-C listener
  // (stopRequested) only runs if the loop gives the event loop a turn: at most every 100 ms, which
  // costs nothing against a step of the base model and little against the tiny ones.
  let turnedAt = performance.now();
  const stop = async () => {
    if (performance.now() - turnedAt >= 100) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      turnedAt = performance.now();
    }
    return o.stopRequested();
  };
  while (state.step < o.schedule.totalSteps && !(await stop())) {
    if (state.cursor >= source.size(state.epoch)) {
      state.epoch++;
      state.cursor = 0;
    }
    const { ids, targets, rows } = source.batch(state.epoch, state.cursor, state.cursor + o.batch);
    state.cursor += rows;
    const loss = await tidyAsync(async () => {
      const r = lmLoss(model, ids, targets, rows);
      backward(r.loss);
      return (await r.loss.value.toArray())[0];
    });
    if (!Number.isFinite(loss)) {
      throw new DivergedError(`loss became ${loss} at step ${state.step}`);
    }
    opt.update(learningRate(state.step, o.schedule));
    opt.zeroGrad();
    state.step++;
    state.tokens += targets.filter((x) => x >= 0).length;
    lossAvg = Number.isNaN(lossAvg) ? loss : 0.98 * lossAvg + 0.02 * loss;
    if (state.step % 50 === 0) state.losses.push(Number(lossAvg.toFixed(4)));
    o.onStep?.(state, lossAvg, seconds());
    if (state.step % o.ckptEvery === 0) await save();
  }
  if (o.stopRequested() && savedAt !== state.step) await save();
  state.seconds = seconds();
  return lossAvg;
}
