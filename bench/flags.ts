// The benchmarks' flags, `--name` or `--name=value`: a name the benchmark does not know, or a
// number that is not one, stops it with exit 2 before any work (a typo such as `--round=5` used to
// run the whole benchmark with its defaults, and `--rounds=abc` with NaN rounds).

import { exitWithError } from "../src/cli/fail.ts";

export interface BenchFlags {
  has(name: string): boolean;
  get(name: string): string | undefined;
  /** The integer value of `--name=N` (>= min), or `def` when the flag is absent. */
  int(name: string, def: number, min?: number): number;
  /** `--name=a,b` split at commas, each one of `choices`; undefined when the flag is absent. */
  list(name: string, choices: readonly string[]): string[] | undefined;
}

/** Parses `argv` against the `known` flag names (without the dashes). */
export function benchFlags(
  known: readonly string[],
  argv: readonly string[] = Deno.args,
): BenchFlags {
  const values = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(a);
    if (!m || !known.includes(m[1])) {
      exitWithError(`unknown flag "${a}"; flags: ${known.map((k) => `--${k}`).join(", ")}`, 2);
    }
    values.set(m[1], m[2] ?? "true");
  }
  return {
    has: (name) => values.has(name),
    get: (name) => values.get(name),
    int(name, def, min = 0) {
      const v = values.get(name);
      if (v === undefined) return def;
      const n = Number(v);
      if (!/^-?\d+$/.test(v) || n < min) {
        exitWithError(`--${name} must be an integer >= ${min}, got "${v}"`, 2);
      }
      return n;
    },
    list(name, choices) {
      const v = values.get(name);
      if (v === undefined) return undefined;
      const items = v.split(",");
      for (const item of items) {
        if (!choices.includes(item)) {
          exitWithError(`--${name}: "${item}" is none of ${choices.join(", ")}`, 2);
        }
      }
      return items;
    },
  };
}
