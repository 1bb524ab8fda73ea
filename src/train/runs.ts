// The runs a model was trained in. A resumed run continues another's checkpoint, so a model can be
// the work of several commands; the checkpoint carries their list (TrainState.runs) and the card
// shows every one. A checkpoint written before the list was kept yields one run of unknown command
// for the steps it holds.

import type { TrainRun, TrainState } from "./checkpoint.ts";

/** Opens this run's entry in `state.runs`, after the runs that wrote the checkpoint it resumes. */
export function beginRun(state: TrainState, command: string): void {
  const earlier = state.runs ??
    (state.step > 0
      ? [{ command: null, fromStep: 0, toStep: state.step, seconds: state.seconds }]
      : []);
  state.runs = [...earlier, { command, fromStep: state.step, toStep: state.step, seconds: 0 }];
}

/** Brings this run's entry up to `state`'s step and time (before a checkpoint, and at the end). */
export function recordRun(state: TrainState): void {
  const runs = state.runs!;
  const before = runs.slice(0, -1).reduce((a, r) => a + r.seconds, 0);
  const last: TrainRun = runs[runs.length - 1];
  last.toStep = state.step;
  last.seconds = Number((state.seconds - before).toFixed(1));
}
