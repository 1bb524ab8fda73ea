// A one-line progress bar on stderr for long phases (attribution, update steps, training):
// label, bar, count, rate, ETA and a free-form detail such as the current loss. A phase that ends
// before its total (an update that stops early) ends on its count, "stopped early", no ETA; one
// its caller stopped (training at Ctrl-C) ends on its count, "interrupted".

const enc = new TextEncoder();

/**
 * A progress bar on stderr for one phase of `total` steps of `unit`: redrawn in place (at most
 * every 100 ms) on a terminal, else one line every 30 s and one at the end.
 */
export class Progress {
  #start = performance.now();
  /** When the terminal was last redrawn; the first report always draws. */
  #last = -Infinity;
  #done = false;
  #lastLine = 0;
  /** Not a terminal: the latest line not yet written (shown by finish() if the phase ends early). */
  #unwritten: string | null = null;
  /** The latest count and detail, for the line of a phase that ends early. */
  #n = 0;
  #detail = "";
  /** Whether stderr is a terminal (the bar redraws in place) or a log (it writes lines). */
  readonly isTty: boolean = Deno.stderr.isTerminal();

  /** `from`: the count already done when the bar starts (a resumed run), left out of the rate. */
  constructor(
    readonly label: string,
    readonly total: number,
    readonly unit = "it",
    readonly from = 0,
  ) {}

  /**
   * Reports `n` steps done, with `detail` after the rate and ETA (such as the loss); finishes the
   * bar when `n` reaches the total.
   */
  update(n: number, detail = ""): void {
    this.#n = n;
    this.#detail = detail;
    const now = performance.now();
    // A terminal redraws at most every 100 ms; otherwise every count is kept for the last line.
    if (this.isTty && n < this.total && now - this.#last < 100) return;
    this.#last = now;
    const secs = (now - this.#start) / 1000;
    const rate = secs > 0 ? Math.max(0, n - this.from) / secs : 0;
    // Before a step has been timed (a phase's first report) neither is known yet.
    const speed = rate > 0
      ? `${rate.toFixed(1)} ${this.unit}/s ETA ${((this.total - n) / rate).toFixed(0)}s`
      : `? ${this.unit}/s ETA ?`;
    const line = `${this.#bar(n)} ${speed} ${detail}`;
    if (this.isTty) Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${line}`));
    else if (n >= this.total || now - this.#lastLine > 30_000) {
      // Not a terminal (a log file, CI): one line every 30 s and at the end.
      this.#lastLine = now;
      this.#unwritten = null;
      Deno.stderr.writeSync(enc.encode(line + "\n"));
    } else this.#unwritten = line;
    if (n >= this.total) this.finish();
  }

  /** Label, bar and count. */
  #bar(n: number): string {
    const width = 24;
    const fill = Math.round((this.total > 0 ? Math.min(1, n / this.total) : 1) * width);
    return `${this.label} [${"#".repeat(fill)}${"-".repeat(width - fill)}] ${n}/${this.total}`;
  }

  /**
   * Ends the bar. A phase that stopped before its total ends on its last count, marked `why` (no
   * ETA): "stopped early" for one that stopped by itself, such as an update that met its goal;
   * "interrupted" for one stopped at Ctrl-C. Redrawn on a terminal, written once off one.
   */
  finish(why: "stopped early" | "interrupted" = "stopped early"): void {
    if (this.#done) return;
    this.#done = true;
    const early = this.#n < this.total && (this.isTty || this.#unwritten !== null);
    const line = `${this.#bar(this.#n)} ${why} ${this.#detail}`.trimEnd();
    if (this.isTty) Deno.stderr.writeSync(enc.encode(early ? `\r\x1b[2K${line}\n` : "\n"));
    else if (early) Deno.stderr.writeSync(enc.encode(line + "\n"));
  }
}
