// Ctrl-C for long commands: the first SIGINT asks the work to stop at its next safe point (a
// record written, a checkpoint saved) and says so; a second one exits at once with status 130.

/** A SIGINT listener: `requested()` turns true at the first Ctrl-C; `release()` removes it. */
export interface Interrupt {
  requested(): boolean;
  release(): void;
}

export function listenForInterrupt(what: string): Interrupt {
  let stop = false;
  const onSigint = () => {
    if (stop) Deno.exit(130);
    stop = true;
    console.error(`\ninterrupt: ${what} (Ctrl-C again to abort)`);
  };
  Deno.addSignalListener("SIGINT", onSigint);
  return {
    requested: () => stop,
    release: () => Deno.removeSignalListener("SIGINT", onSigint),
  };
}
