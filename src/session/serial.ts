// The library's calls that compute on a model (load, complete, edit, editMany, applyPatch) run one
// at a time, in call order, whatever model or backend they are on. Tensors' tidy scopes are one
// stack per process (src/tensor/tensor.ts: async tidies must not interleave), so two such calls
// left to interleave freed each other's tensors ("tensor [128, 6] was freed", two models edited at
// once) or left a model edited after both edits were reverted (two edits of one model at once).

let last: Promise<unknown> = Promise.resolve();

/** Runs `fn` once every call queued before it has settled; its result or error is `fn`'s. */
export function oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
  const run = last.then(fn);
  last = run.catch(() => {});
  return run;
}
