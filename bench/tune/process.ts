// The search's child processes: each runs detached, stderr read line by line, the terminal's
// signals forwarded by the search (Signals); and the kernel build, once, before the first trial.

import { fileURLToPath } from "node:url";
import { exitWithError } from "../../src/cli/fail.ts";
import { childError, exitOf, lastLines } from "./trial-output.ts";

const BUILD_WASM_SCRIPT = fileURLToPath(new URL("../../scripts/build-wasm.ts", import.meta.url));

/**
 * The search's side of the signals. Its children run detached (in their own process group), so a
 * Ctrl-C at the terminal reaches only the search, which forwards it: the first SIGINT to the
 * running edit command, which finishes its current record, saves and exits 130, after which the
 * search stops (exit 130) saying how to resume; a second one is forwarded too (the edit command
 * then stops at once). The kernel build is left to finish. SIGTERM and SIGHUP end the running
 * child (SIGTERM) and then the search (128 + the signal's number), so no child outlives it.
 */
export class Signals {
  interrupts = 0;
  /** The exit status owed to a SIGTERM or SIGHUP, once one came. */
  fatal: number | null = null;
  #child: { process: Deno.ChildProcess; forward: boolean } | null = null;

  constructor() {
    Deno.addSignalListener("SIGINT", () => this.#onInterrupt());
    for (const [signal, code] of [["SIGTERM", 143], ["SIGHUP", 129]] as const) {
      try {
        Deno.addSignalListener(signal, () => this.#onFatal(code));
      } catch {
        // not a signal of this platform
      }
    }
  }

  /** `process` runs until ended(); `forward`: it gets the interrupts (else it is left to finish). */
  running(process: Deno.ChildProcess, forward: boolean): void {
    this.#child = { process, forward };
    // A signal that came while the child was being started.
    if (this.fatal !== null) this.#kill("SIGTERM");
    else if (this.interrupts > 0 && forward) this.#kill("SIGINT");
  }

  ended(): void {
    this.#child = null;
    if (this.fatal !== null) this.#exitFatal();
  }

  #exitFatal(): never {
    console.error(
      "terminated: rerun the same command with --resume to keep the finished trials and continue",
    );
    Deno.exit(this.fatal!);
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.#child?.process.kill(signal);
    } catch {
      // it has exited meanwhile
    }
  }

  #onInterrupt(): void {
    this.interrupts++;
    const again = this.interrupts > 1;
    if (this.#child?.forward) {
      this.#kill("SIGINT");
      console.error(
        again
          ? "\ninterrupt: stopping the trial now"
          : "\ninterrupt: the trial finishes its current record, then the search stops " +
            "(Ctrl-C again to stop the trial now)",
      );
    } else if (this.#child) {
      console.error("\ninterrupt: the search stops once the kernel build is done");
    } else if (again) {
      Deno.exit(130);
    } else {
      console.error("\ninterrupt: the search stops before the next trial (Ctrl-C again to exit)");
    }
  }

  #onFatal(code: number): void {
    this.fatal = code;
    if (this.#child) this.#kill("SIGTERM");
    else this.#exitFatal();
  }
}

/** A finished child: how it ended and what it wrote on stderr, by line. */
export interface ChildRun {
  status: Deno.CommandStatus;
  stderr: string[];
}

/** Runs `deno run -A <script> <args>` detached (see Signals), handing each stderr line to `onLine`. */
export async function runChild(
  script: string,
  args: string[],
  signals: Signals,
  forwardInterrupts: boolean,
  onLine: (line: string) => void = () => {},
): Promise<ChildRun> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    detached: true,
  }).spawn();
  signals.running(process, forwardInterrupts);
  const stderr: string[] = [];
  const take = (line: string) => {
    stderr.push(line);
    onLine(line);
  };
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of process.stderr) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    lines.forEach(take);
  }
  rest += decoder.decode();
  if (rest !== "") take(rest);
  const status = await process.status;
  signals.ended();
  return { status, stderr };
}

let kernelsBuilt = false;

/**
 * Builds the AssemblyScript kernels (build/kernels.wasm) as the deno tasks do through their
 * build:wasm dependency; a no-op when they are up to date. Once per search, before its first trial.
 */
export async function buildKernels(signals: Signals): Promise<void> {
  if (kernelsBuilt) return;
  // Its "built ..." line says where a first search's time went; "up to date" is left out.
  const { status, stderr } = await runChild(BUILD_WASM_SCRIPT, [], signals, false, (line) => {
    if (line.startsWith("built ")) console.error(line);
  });
  if (!status.success) {
    const why = childError(stderr) ?? lastLines(stderr) ?? exitOf(status);
    exitWithError(
      `building the AssemblyScript kernels (deno run -A scripts/build-wasm.ts) failed: ${why}`,
      1,
    );
  }
  kernelsBuilt = true;
  if (signals.interrupts > 0) {
    console.error("interrupted before the first trial ran");
    Deno.exit(130);
  }
}
