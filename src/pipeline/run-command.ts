// How a command-line script runs its work: anything the work throws that the script did not catch
// ends it with one `error:` line and exit status 1 (src/cli/fail.ts), a raw OS error first named by
// its path (src/io/files.ts: never "os error 2"), not with a stack trace.

import { exitWithError } from "../cli/fail.ts";
import { fsError } from "../io/files.ts";

/**
 * Runs a script's `work`; anything it throws ends the process with one `error:` line (a raw OS
 * error named by its path) and exit status 1, instead of a stack trace.
 */
export async function runCommand(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (e) {
    const err = fsError(e);
    exitWithError(err instanceof Error ? err.message : String(err), 1);
  }
}
