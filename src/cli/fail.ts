// How a command-line script stops on an error: one `error:` line with its control characters
// escaped (message.ts), the usage's synopsis after a bad flag (its first lines; --help has the
// rest, so the error is not scrolled away), and an exit status: 2 for bad flags or values,
// 1 when the work itself failed (a missing model folder, an unreadable file), or a code of its own
// (a lost device). src/pipeline/run-command.ts turns an error a script did not catch into such a
// line.

import { printable } from "./message.ts";

/**
 * Prints `error: <msg>` to stderr (control characters escaped), then `usage`'s synopsis when given
 * (a bad flag), and exits with status `code` (2 for bad flags or values, 1 for failed work).
 */
export function exitWithError(msg: string, code: number, usage?: string): never {
  console.error(`error: ${printable(msg)}${usage ? `\n\n${synopsis(usage)}` : ""}`);
  Deno.exit(code);
}

/** A usage text up to its first blank line, with a pointer to the rest. */
export function synopsis(usage: string): string {
  const cut = usage.indexOf("\n\n");
  return cut < 0 ? usage : `${usage.slice(0, cut)}\n(--help lists every option)`;
}
