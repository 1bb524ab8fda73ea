// The benchmarks' flags, `--name` or `--name=value` (or `--name value` for the flags a benchmark
// says take one): a name the benchmark does not know, or a number that is not one, stops it with
// a one-line error and exit 2 before any work (a typo such as `--round=5` used to run the whole
// benchmark with its defaults, and `--rounds=abc` with NaN rounds). `--help` / `-h` prints the
// usage (the usage line of the benchmark's header comment and its flags) and exits 0.

import { exitWithError } from "../src/cli/fail.ts";

export interface BenchFlags {
  has(name: string): boolean;
  get(name: string): string | undefined;
  /** The integer value of `--name=N` (>= min), or `def` when the flag is absent. */
  int(name: string, def: number, min?: number): number;
  /** `--name=a,b` split at commas, each one of `choices`; undefined when the flag is absent. */
  list(name: string, choices: readonly string[]): string[] | undefined;
}

export interface BenchFlagOptions {
  /** The usage line(s) printed by --help (default: the one in the main module's header comment). */
  usage?: string;
  /** Flags that take a value, which may then also be written `--name value`. */
  values?: readonly string[];
}

/** Parses `argv` against the `known` flag names (without the dashes). */
export function benchFlags(
  known: readonly string[],
  argv: readonly string[] = Deno.args,
  opts: BenchFlagOptions = {},
): BenchFlags {
  const values = new Map<string, string>();
  const takesValue = new Set(opts.values ?? []);
  const list = known.map((k) => `--${k}`).join(", ");
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      help = true;
      continue;
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(a);
    if (!m || !known.includes(m[1])) {
      exitWithError(`unknown flag "${a}"; flags: ${list} (--help prints the usage)`, 2);
    }
    let value = m[2];
    if (value === undefined && takesValue.has(m[1])) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("-") && !/^-\d+$/.test(next))) {
        exitWithError(`--${m[1]} needs a value`, 2);
      }
      value = argv[++i];
    }
    values.set(m[1], value ?? "true");
  }
  if (help) {
    console.log(benchUsage(known, opts));
    Deno.exit(0);
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

/** What --help prints: the usage line(s), then every flag the benchmark knows. */
export function benchUsage(known: readonly string[], opts: BenchFlagOptions = {}): string {
  const usage = opts.usage ?? headerUsage(mainSource()) ?? `deno run -A ${mainPath()} [flags]`;
  const spaced = opts.values?.length
    ? `; ${opts.values.map((v) => `--${v}`).join(", ")} also as --name value`
    : "";
  // The flag list wrapped at 100 columns.
  const lines = [""];
  for (const [i, k] of known.entries()) {
    const item = `--${k}${i < known.length - 1 ? "," : ""}`;
    const at = lines.length - 1;
    if (lines[at] && lines[at].length + item.length > 91) lines.push(item);
    else lines[at] += `${lines[at] ? " " : ""}${item}`;
  }
  return `Usage: ${usage}\n\nFlags: ${lines.join("\n       ")}\n` +
    `  (written --name or --name=value${spaced})\n` +
    `  -h, --help  print this usage\n` +
    `The benchmark's header comment (${mainPath()}) says what each flag does.`;
}

/**
 * The usage line of a script's header comment (the leading `//` lines): the first that holds
 * `deno task ...` or `deno run ...` (from that command on, backticks dropped), with the lines
 * after it that continue its flag list (`//` and more spaces, then `[`); null when there is none.
 */
export function headerUsage(source: string): string | null {
  const header: string[] = [];
  for (const line of source.split("\n")) {
    if (!line.startsWith("//")) break;
    header.push(line.slice(2));
  }
  for (const [i, line] of header.entries()) {
    const at = line.search(/deno (task|run) /);
    if (at < 0) continue;
    const lines = [line.slice(at).replace(/`[^`]*$/, "").replaceAll("`", "").trimEnd()];
    for (const next of header.slice(i + 1)) {
      if (!/^\s{2,}\[/.test(next)) break;
      lines.push(`  ${next.trim()}`);
    }
    return lines.join("\n");
  }
  return null;
}

function mainPath(): string {
  const main = new URL(Deno.mainModule);
  const root = new URL("..", import.meta.url);
  return main.href.startsWith(root.href) ? main.href.slice(root.href.length) : main.pathname;
}

function mainSource(): string {
  try {
    return Deno.readTextFileSync(new URL(Deno.mainModule));
  } catch {
    return "";
  }
}
