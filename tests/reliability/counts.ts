// Counters for docs/RELIABILITY.md: fuzz cases run per parser and faults injected per kind. Each
// test adds its numbers; every addition is printed as a `[reliability]` line, and appended as
// JSON to $KNE_RELIABILITY_COUNTS when that variable names a file.

class Counter {
  constructor(readonly kind: "fuzz" | "faults") {}
  add(what: string, n: number): void {
    console.log(`[reliability] ${this.kind} ${what}: ${n}`);
    const file = Deno.env.get("KNE_RELIABILITY_COUNTS");
    if (file) {
      Deno.writeTextFileSync(file, JSON.stringify({ kind: this.kind, what, n }) + "\n", {
        append: true,
      });
    }
  }
}

/** Fuzz cases (generated inputs, shrinking runs included) per parser. */
export const FUZZ = new Counter("fuzz");
/** Faults injected (interrupts, kills, device losses, hostile files...) per kind. */
export const FAULTS = new Counter("faults");
