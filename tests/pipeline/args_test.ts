// The edit command line's cross-checks that a user audit found missing: a --subject the prompt
// does not contain was accepted (ROME then edited at the prompt's last token, silently), and --n
// beside --prompt was ignored. Both are refused now; the fuzz suite checks the same invariants
// on random command lines.

import assert from "node:assert/strict";
import { parseEditArgs, UsageError } from "../../src/pipeline/args.ts";

const PROMPT = ["--prompt", "The capital of France is", "--target", "Rome"];

Deno.test("--subject must occur in --prompt", () => {
  assert.equal(parseEditArgs([...PROMPT, "--subject", "France"]).subject, "France");
  for (const subject of ["Germany", "france"]) {
    assert.throws(
      () => parseEditArgs([...PROMPT, "--subject", subject]),
      (e) => e instanceof UsageError && /does not occur in --prompt/.test(e.message),
      subject,
    );
  }
  // An empty one is named as empty (it read "--subject \"\" does not occur in --prompt").
  for (const subject of ["", " "]) {
    assert.throws(
      () => parseEditArgs([...PROMPT, "--subject", subject]),
      (e) => e instanceof UsageError && e.message === "--subject must not be empty",
      JSON.stringify(subject),
    );
  }
});

Deno.test("--n goes with a request file, not --prompt", () => {
  assert.equal(parseEditArgs(["--n", "3"]).n, 3);
  assert.throws(
    () => parseEditArgs([...PROMPT, "--n", "3"]),
    (e) => e instanceof UsageError && /--n picks requests of a file/.test(e.message),
  );
});
