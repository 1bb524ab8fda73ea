// A script's command line: its flags parsed strictly (an unknown flag or a stray argument stops it
// with exit 2 and its usage, fail.ts), and `--help` / `-h` printing the usage and exiting 0.

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
