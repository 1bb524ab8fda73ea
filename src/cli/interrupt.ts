// Ctrl-C for long commands: the first SIGINT asks the work to stop at its next safe point (a
// record written, a checkpoint saved) and says so; a second one exits at once with status 130.
// `request()` does what the first Ctrl-C does (for the fault injection of src/pipeline/faults.ts).

/** A SIGINT listener: `requested()` turns true at the first Ctrl-C; `release()` removes it. */
export interface Interrupt {
  requested(): boolean;
  /** As a first Ctrl-C: asks the work to stop at its next safe point, and says so. */
  request(): void;
  release(): void;
}

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
