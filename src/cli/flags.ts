// A script's command line: its flags parsed strictly (an unknown flag or a stray argument stops it
// with exit 2 and its usage, fail.ts), `--help` / `-h` printing the usage and exiting 0, and a
// flag's whole-number value read strictly, and the one wording of a value outside its choices.

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { exitWithError } from "./fail.ts";

type WithHelp<T> = T & { help: { type: "boolean"; short: "h" } };

function parseStrict<const T extends ParseArgsOptionsConfig>(options: T, argv: string[]) {
  return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values;
}

export function parseFlags<const T extends ParseArgsOptionsConfig>(
  options: T,
  usage: string,
  argv: string[] = Deno.args,
): ReturnType<typeof parseStrict<WithHelp<T>>> {
  const all = { ...options, help: { type: "boolean", short: "h" } } as WithHelp<T>;
  try {
    const values = parseStrict(all, argv);
    if ((values as { help?: boolean }).help) {
      console.log(usage);
      Deno.exit(0);
    }
    return values;
  } catch (e) {
    exitWithError((e as Error).message, 2, usage);
  }
}

/** Why a flag's value is refused when it must be one of `choices`. */
export function notOneOf(flag: string, value: string, choices: Iterable<string>): string {
  return `--${flag} must be one of ${[...choices].join(", ")}, got "${value}"`;
}

/**
 * A flag's value as a whole number written in decimal digits (a leading "-" allowed), or null:
 * "1e3", "0x10", "12.0", "" and integers past 2^53 are not read as numbers.
 */
export function wholeNumber(text: string): number | null {
  const n = Number(text);
  return /^-?\d+$/.test(text) && Number.isSafeInteger(n) ? n : null;
}
