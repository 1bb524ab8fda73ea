// How a command-line script stops on an error: one `error:` line with its control characters
// escaped (message.ts), the usage after a bad flag, and an exit status: 2 for bad flags or values,
// 1 when the work itself failed (a missing model folder, an unreadable file), or a code of its own
// (a lost device). `runCommand` turns an error the script did not catch into such a line instead
// of a stack trace.

import { fsError } from "../io/files.ts";
import { printable } from "./message.ts";

export function exitWithError(msg: string, code: number, usage?: string): never {
  console.error(`error: ${printable(msg)}${usage ? `\n\n${usage}` : ""}`);
  Deno.exit(code);
}

/**
 * Runs a script's work; anything it throws ends the script with exit status 1 and its message (a
 * raw OS error as a FileSystemError naming the path, never "os error 2").
 */
export async function runCommand(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (e) {
    const err = fsError(e);
    exitWithError(err instanceof Error ? err.message : String(err), 1);
  }
}
