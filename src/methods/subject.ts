// Where the subject ends in a prompt's tokens: the position ROME, MEMIT and KN read and write
// the subject's key at.

import type { Tokenizer } from "../io/tokenizer.ts";

export interface SubjectPosition {
  /** Index in the prompt's tokens of the subject's last token. */
  index: number;
  /** False when the subject was not found and the last prompt token is used instead. */
  found: boolean;
  /** How it was found, or why not. */
  note: string;
}

function findSub(hay: readonly number[], needle: readonly number[]): number {
  if (needle.length === 0) return -1;
  outer: for (let s = 0; s + needle.length <= hay.length; s++) {
    for (let j = 0; j < needle.length; j++) if (hay[s + j] !== needle[j]) continue outer;
    return s;
  }
  return -1;
}

/**
 * The subject's last token in the prompt (ROME's "subject_last" lookup): the tokens of the
 * prompt text up to the end of the subject's first occurrence, when they are a prefix of the
 * prompt's tokens; else the subject's tokens (with or without a leading space) found inside the
 * prompt's tokens; else the last prompt token (found = false, and the note says so).
 */
export function subjectLastToken(
  tok: Tokenizer,
  prompt: string,
  promptIds: readonly number[],
  subject: string,
): SubjectPosition {
  const at = subject.trim() === "" ? -1 : prompt.indexOf(subject);
  if (at >= 0) {
    const prefix = tok.encode(prompt.slice(0, at + subject.length));
    if (
      prefix.length > 0 && prefix.length <= promptIds.length &&
      prefix.every((id, i) => id === promptIds[i])
    ) {
      return { index: prefix.length - 1, found: true, note: "subject text found in the prompt" };
    }
  }
  for (const variant of [subject, ` ${subject}`]) {
    const ids = subject.trim() === "" ? [] : tok.encode(variant, { addSpecialTokens: false });
    const s = findSub(promptIds, ids);
    if (s >= 0) {
      return {
        index: s + ids.length - 1,
        found: true,
        note: "subject tokens found among the prompt's tokens",
      };
    }
  }
  return {
    index: promptIds.length - 1,
    found: false,
    note: `subject "${subject}" not found in the prompt's tokens; the last prompt token is used`,
  };
}
