// Gradient checkpointing: a block of ops whose intermediates are not kept for backward. Forward
// runs the block without recording and keeps only its output; backward runs it again with
// recording, back-propagates the output's gradient through that fresh graph (the parameters'
// gradients reach them there, sinks included) and frees it before the next block's turn. Memory
// of a stack of blocks drops from every block's activations to their outputs plus one block's.
// runBlock runs a model layer this way when asked, and frees its intermediates as soon as it
// has run when nothing needs its gradient (inference, frozen layers before the trained ones).

import { type Tensor, tidy } from "../tensor/tensor.ts";
import { backward, isGradEnabled, noGrad, record, Var } from "./variable.ts";

/**
 * A block (a model layer) run as memory allows: when nothing needs its gradient (inference, or
 * frozen layers before the trained ones) its intermediates are freed as soon as it has run;
 * otherwise it is checkpointed when `checkpointed`, else recorded as usual. Only for blocks whose
 * insides nothing outside holds on to (no hooks, no KV cache).
 */
export function runBlock(
  x: Var,
  params: readonly Var[],
  fn: (x: Var) => Var,
  checkpointed: boolean,
): Var {
  if (!needsGradient(x, params)) return new Var(tidy(() => fn(x).value), false);
  return checkpointed ? checkpoint(x, params, fn) : fn(x);
}

/**
 * fn(x) with fn's intermediates recomputed in backward instead of kept (something needs a
 * gradient). `params` must list every parameter fn reads that may need a gradient, and fn must
 * compute the same values when run again (no state changes between forward and backward).
 */
function checkpoint(x: Var, params: readonly Var[], fn: (x: Var) => Var): Var {
  const y = tidy(() => noGrad(() => fn(new Var(x.value, false)).value));
  return record(y, [x, ...params], (g, needs) => {
    const dx = tidy((): Tensor | null => {
      const input = new Var(x.value, needs[0]);
      const out = fn(input);
      if (out.requiresGrad) backward(out, g);
      // A leaf's gradient is kept out of the scope: it survives, the recomputed graph does not.
      return input.grad;
    });
    // The parameters received theirs inside the recomputed graph.
    return [dx, ...params.map(() => null)];
  });
}

function needsGradient(x: Var, params: readonly Var[]): boolean {
  return isGradEnabled() && (x.requiresGrad || params.some((p) => p.requiresGrad));
}
