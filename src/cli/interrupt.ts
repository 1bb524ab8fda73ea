// Ctrl-C for long commands: the first SIGINT asks the work to stop at its next safe point (a
// record written, a checkpoint saved) and says so; a second one exits at once with status 130.
// `request()` does what the first Ctrl-C does (for the fault injection of src/pipeline/faults.ts).
// Commands with nothing to save or resume (trace, patch) abort at the first SIGINT instead
// (abortOnInterrupt): they remove what they had begun to write, say what was interrupted and exit
// with status 130, which releases their output's lock (lockOutput's unload listener);
// KNE_FAULT_SIGINT_AT=<stage> sends such a command a Ctrl-C at a known stage (interruptAt), so a
// test interrupts it there without timing a signal.

/** A SIGINT listener: `requested()` turns true at the first Ctrl-C; `release()` removes it. */
export interface Interrupt {
  /** Whether Ctrl-C (or request()) has asked the work to stop. */
  requested(): boolean;
  /** As a first Ctrl-C: asks the work to stop at its next safe point, and says so. */
  request(): void;
  /** Removes the SIGINT listener, once the work is over. */
  release(): void;
}

/**
 * Listens for SIGINT: the first Ctrl-C prints "interrupt: <what> (Ctrl-C again to abort)" and
 * sets requested(); a second one exits at once with status 130.
 */
export function listenForInterrupt(what: string): Interrupt {
  let stop = false;
  const request = () => {
    stop = true;
    console.error(`\ninterrupt: ${what} (Ctrl-C again to abort)`);
  };
  const onSigint = () => {
    if (stop) Deno.exit(130);
    request();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  return {
    requested: () => stop,
    request,
    release: () => Deno.removeSignalListener("SIGINT", onSigint),
  };
}

/** A SIGINT listener that aborts the command (abortOnInterrupt). */
export interface Abort {
  /**
   * The output is complete and being moved into place: a Ctrl-C from now on lets that finish
   * (a second one aborts at once, cleaning nothing).
   */
  finishing(): void;
  release(): void;
}

/**
 * For a command with no safe point to stop at (trace, patch): the first SIGINT runs `cleanup`,
 * which removes, synchronously, whatever the command had begun to write and returns what it left
 * in words ("out is unchanged"), prints "interrupted: <what>; <those words>" and exits with status
 * 130 (the lock files of lockOutput go with the exit).
 */
export function abortOnInterrupt(what: string, cleanup: () => string): Abort {
  let finishing = false;
  let asked = false;
  const onSigint = () => {
    if (finishing && !asked) {
      asked = true;
      console.error(
        `\ninterrupt: ${what} has finished and is moving its output into place ` +
          `(Ctrl-C again to abort)`,
      );
      return;
    }
    let left: string;
    try {
      left = finishing ? "stopped while moving its output into place: rerun it" : cleanup();
    } catch (e) {
      left = `cleaning up failed: ${(e as Error).message}`;
    }
    console.error(`\ninterrupted: ${what}; ${left}`);
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSigint);
  return {
    finishing: () => {
      finishing = true;
    },
    release: () => Deno.removeSignalListener("SIGINT", onSigint),
  };
}

/**
 * Removes the folder `dir` and all it holds, synchronously (for a SIGINT handler, so that no
 * other work runs meanwhile); a file still being created in it is retried. Absent is fine.
 */
export function removeFolderNow(dir: string): void {
  for (let attempt = 0;; attempt++) {
    try {
      Deno.removeSync(dir, { recursive: true });
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      if (attempt >= 3) throw e;
    }
  }
}

/**
 * For tests: sends this process a SIGINT when KNE_FAULT_SIGINT_AT names `stage`, then waits (up
 * to a minute) for its listener to act, so that the work never goes past `stage` first.
 */
export async function interruptAt(stage: string): Promise<void> {
  if (Deno.env.get("KNE_FAULT_SIGINT_AT") !== stage) return;
  Deno.kill(Deno.pid, "SIGINT");
  await new Promise((resolve) => setTimeout(resolve, 60_000));
}
