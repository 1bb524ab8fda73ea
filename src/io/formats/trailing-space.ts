// White space at the end of a request's prompts and subject is removed. An answer follows its
// prompt with its own leading space (promptWithAnswer: "... France is" + " Paris"), so with a
// byte-level BPE tokenizer "The capital of France is " ended in a token of its own, a lone space
// that no training text puts before an answer: the unedited model answered " İzmir" there instead
// of " Paris", and the edit taught "is  Rome", two spaces. Every request file reader and the
// library's edits apply this (src/io/requests.ts, src/session/edit.ts).

import type { EditRequest, Probe } from "./record.ts";

/** One text whose trailing white space was removed: where, and the text as it was given. */
export interface Trimmed {
  field: string;
  text: string;
}

/** `r` with no white space at the end of its prompts and subject, and what was removed. */
export function trimTrailingSpace(r: EditRequest): { request: EditRequest; trimmed: Trimmed[] } {
  const trimmed: Trimmed[] = [];
  const trim = (text: string, field: string) => {
    const t = text.trimEnd();
    if (t !== text) trimmed.push({ field, text });
    return t;
  };
  const probes = (group: Record<string, Probe[]>, name: string) => {
    const out: Record<string, Probe[]> = {};
    for (const [kind, list] of Object.entries(group)) {
      // defineProperty: a kind named "__proto__" stays an ordinary key (as the readers keep it).
      Object.defineProperty(out, kind, {
        value: list.map((p, i) => ({
          ...p,
          prompt: trim(p.prompt, `${name}.${kind}[${i}].prompt`),
        })),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  const request: EditRequest = {
    ...r,
    prompt: trim(r.prompt, "prompt"),
    subject: trim(r.subject, "subject"),
    rephrasePrompts: r.rephrasePrompts.map((p, i) => trim(p, `rephrase_prompt[${i}]`)),
    portability: probes(r.portability, "portability"),
    locality: probes(r.locality, "locality"),
  };
  return { request, trimmed };
}

/**
 * The note that says what was removed from `requests` (each with what trimTrailingSpace removed),
 * read from `source`; null when nothing was.
 */
export function trailingSpaceNote(
  source: string,
  requests: readonly { index: number; trimmed: readonly Trimmed[] }[],
): string | null {
  const hit = requests.filter((r) => r.trimmed.length > 0);
  if (hit.length === 0) return null;
  const { index, trimmed: [first] } = hit[0];
  const text = `its ${first.field} ${JSON.stringify(first.text)}`;
  const what = hit.length === 1
    ? `record ${index}: white space at the end of ${text} was removed`
    : `white space at the end of prompts or subjects of ${hit.length} records was removed ` +
      `(the first: record ${index}, ${text})`;
  return `${source}: ${what}; an answer follows its prompt with its own leading space`;
}
