// A prompt ending in white space ("The capital of France is ") is edited as the prompt without it,
// by the command line and the library alike: the request readers remove the white space at the
// end of every prompt and subject and say so (RequestOptions.onNote, a `note:` line of `deno task
// edit`), and the library's edit() removes it from a request it is given. The lone space was a
// token of its own before the answer's " Paris": the unedited model answered " İzmir" there and
// the edit taught "is  Rome".

import assert from "node:assert/strict";
import {
  createBackend,
  edit,
  loadModelFromDir,
  parseRequests,
  revertChanges,
  simpleRequest,
  validateRequests,
} from "../../mod.ts";
import { ROOT, runEdit } from "../reliability/cli_helpers.ts";

const PROMPT = "The capital of France is";

Deno.test("request files lose the white space ending their prompts and subjects, with a note", () => {
  const notes: string[] = [];
  const [r] = validateRequests(
    [{
      subject: "France ",
      prompt: `${PROMPT} `,
      target_new: "Rome",
      rephrase_prompt: ["France's capital is\t", "The capital city of France is"],
      portability: { Reasoning: [{ prompt: "Its capital is \n", ground_truth: "Rome" }] },
      locality: { Neighborhood: [{ prompt: "The capital of Spain is ", ground_truth: "Madrid" }] },
    }],
    "requests.json",
    { onNote: (n) => notes.push(n) },
  );
  assert.equal(r.prompt, PROMPT);
  assert.equal(r.subject, "France");
  assert.deepEqual(r.rephrasePrompts, ["France's capital is", "The capital city of France is"]);
  assert.equal(r.portability.Reasoning[0].prompt, "Its capital is");
  assert.equal(r.locality.Neighborhood[0].prompt, "The capital of Spain is");
  // The target keeps its own (promptWithAnswer drops white space after an answer).
  assert.equal(r.targetNew, "Rome");
  assert.deepEqual(notes, [
    `requests.json: record 0: white space at the end of its prompt "${PROMPT} " was removed; ` +
    "an answer follows its prompt with its own leading space",
  ]);
  // Several records: counted, the first named; none: no note.
  const many = JSON.stringify([0, 1, 2].map((i) => ({
    subject: "France",
    prompt: i === 0 ? PROMPT : `${PROMPT}  `,
    target_new: "Rome",
  })));
  notes.length = 0;
  parseRequests(many, "many.json", { onNote: (n) => notes.push(n) });
  assert.deepEqual(notes, [
    "many.json: white space at the end of prompts or subjects of 2 records was removed (the " +
    `first: record 1, its prompt "${PROMPT}  "); an answer follows its prompt with its own ` +
    "leading space",
  ]);
  notes.length = 0;
  parseRequests(JSON.stringify([{ subject: "France", prompt: PROMPT, target_new: "Rome" }]), "f", {
    onNote: (n) => notes.push(n),
  });
  assert.deepEqual(notes, []);
});

Deno.test("deno task edit --prompt with a trailing space says it removed it", async () => {
  const r = await runEdit([
    ...["--model", `${ROOT}tests/fixtures/tiny-gpt2`, "--prompt", "The capital of France "],
    ...["--target", "Tokyo", "--backend", "wasm", "--plan"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /^note: command line: record 0: white space at the end of its prompt "The capital of France " was removed; /m,
  );
  assert.doesNotMatch(r.stderr, /have a prompt without their subject/);
});

Deno.test("the library edits a prompt ending in a space as the prompt without it", async () => {
  const backend = await createBackend("wasm");
  try {
    // A byte-level BPE model (kne-facts' WordPiece splits the space away by itself); FT-M with
    // 3 steps, as only the prompt's reading is under test.
    const m = await loadModelFromDir("models/kne-facts-base", backend);
    const opts = { method: "ft-m", hparams: { steps: 3 } };
    const spaced = await edit(m, simpleRequest(`${PROMPT} `, "Rome", "France "), opts);
    revertChanges(m, spaced.changes);
    const plain = await edit(m, simpleRequest(PROMPT, "Rome", "France"), opts);
    revertChanges(m, plain.changes);
    assert.deepEqual(spaced.before, plain.before);
    assert.deepEqual(spaced.after, plain.after);
    assert.deepEqual(spaced.changes, plain.changes);
  } finally {
    await backend.dispose();
  }
});
