// The library's Deno part (`exports["./deno"]` in deno.json): what `deno task edit` adds to the
// one-edit session and the memory plan of mod.ts. Checked inputs and checked loading, the run of
// many requests (single, batch or sequential, resumable) into an output folder with its guards,
// failures and profile, the shipped hyperparameter files and splits on disk, the argument parser,
// and the terminal's progress bars and Ctrl-C. Everything here reads or writes files, the
// environment, signals or the terminal, so the page never imports it; scripts/edit.ts takes
// everything it uses from here and from mod.ts.

// Arguments, requests and hyperparameter files on disk.
export { type EditArgs, HELP, parseEditArgs, UsageError } from "./src/pipeline/args.ts";
export { loadRequests } from "./src/io/requests.ts";
export { fsError, fsReason, present, readRegularText } from "./src/io/files.ts";
export { shippedHparams, shippedHparamsFile } from "./src/pipeline/hparams.ts";
export { defaultAnchors, noModelFolder, splitsOf } from "./src/pipeline/models.ts";
// Inputs checked against the model folder, the weights' dtype from its header, checked loading.
export {
  type CheckedInputs,
  checkInputs,
  emptyAnchorPoolNote,
  loadAnchorPool,
  missingAnchorFile,
} from "./src/pipeline/inputs.ts";
export { weightDtypeFor } from "./src/pipeline/load-check.ts";
export { ResourceError } from "./src/plan/fit.ts";
export { type LoadedModel, loadModel } from "./src/pipeline/load.ts";
// The run into an output folder.
export { runEdits } from "./src/pipeline/run.ts";
export type { EditMode, RecordResult, RunOptions, RunResult } from "./src/pipeline/records.ts";
export { alreadyAnsweredNote, recordLine } from "./src/pipeline/records.ts";
export {
  checkOutputFolder,
  GuardError,
  lockOutput,
  type OutputFolderRules,
} from "./src/pipeline/output-guard.ts";
export { describeFailure } from "./src/pipeline/failure.ts";
export { faultInjection } from "./src/pipeline/faults.ts";
export { formatProfile, type RunProfile, summarizeProfile } from "./src/pipeline/profile.ts";
// The terminal.
export { type Interrupt, listenForInterrupt } from "./src/cli/interrupt.ts";
export { printable } from "./src/cli/message.ts";
export { exitWithError } from "./src/cli/fail.ts";
export { runCommand } from "./src/pipeline/run-command.ts";
export { Progress } from "./src/cli/progress.ts";
