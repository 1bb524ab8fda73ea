// Where a method's shipped hyperparameters for a model are, relative to the hparams folder, in
// the order a run looks for them: a mode's own file (<method>/<model>.<mode>.json), then the
// model's (<method>/<model>.json). One rule for the Deno run (src/pipeline/hparams.ts) and the
// page (web/engine-worker.ts), which fetches them by URL.

/** The files to try, in order: with `mode`, that mode's own first. */
export function hparamsCandidates(method: string, model: string, mode?: string): string[] {
  const own = `${method}/${model}.json`;
  return mode ? [`${method}/${model}.${mode}.json`, own] : [own];
}
