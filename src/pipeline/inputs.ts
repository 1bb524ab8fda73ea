// What every command that edits checks before any weight is read, the same way: the model
// folder's config.json, its tokenizer.json (patterns that could backtrack are refused, encoded
// ids are checked against the vocabulary), and every request's prompt, target and probes
// tokenised against the context (src/edit/targets.ts); and the anchor pool they are read with.

import type { EditTarget } from "../edit/method.ts";
import { editTarget } from "../edit/targets.ts";
import { exists } from "../io/files.ts";
import { type EditRequest, loadRequests } from "../io/requests.ts";
import { loadTokenizer, type Tokenizer } from "../io/tokenizer.ts";
import { checkTokenizerFile, guardTokenizer } from "../io/tokenizer-guard.ts";
import type { ModelConfig } from "../model/config.ts";
import { readModelConfig } from "../model/read-config.ts";

/** What checkInputs read and checked: the model's config, its tokenizer, the tokenised requests. */
export interface CheckedInputs {
  /** The model folder's config.json, normalised. */
  config: ModelConfig;
  /** The guarded tokenizer (guardTokenizer). */
  tokenizer: Tokenizer;
  /** Each request tokenised and checked against the context, in the requests' order. */
  targets: EditTarget[];
}

/** Checks the model's config and tokenizer and the requests; throws the typed error of each. */
export async function checkInputs(
  modelDir: string,
  requests: readonly EditRequest[],
  source: string,
): Promise<CheckedInputs> {
  const config = await readModelConfig(modelDir);
  await checkTokenizerFile(modelDir);
  const tokenizer = guardTokenizer(await loadTokenizer(modelDir, config.vocabSize));
  const targets = requests.map((r) => editTarget(r, tokenizer, config.contextLength, source));
  return { config, tokenizer, targets };
}

/**
 * The anchor pool the locality terms draw from (src/edit/anchors.ts): the requests of `file`, or
 * none when it is the evaluated requests' own file (`source`) or does not exist (a model's
 * default split may be absent; a file the user names is checked first, missingAnchorFile).
 */
export async function loadAnchorPool(file: string, source: string): Promise<EditRequest[]> {
  return file === source || !(await exists(file)) ? [] : await loadRequests(file);
}

/** The refusal of a named --anchors file that does not exist, or null when it does. */
export async function missingAnchorFile(file: string): Promise<string | null> {
  return (await exists(file))
    ? null
    : `--anchors ${file}: no such file (the edit would run without anchors)`;
}

/** The note for a named --anchors file that gives no anchors, or null when it gives some. */
export function emptyAnchorPoolNote(
  file: string,
  source: string,
  pool: readonly EditRequest[],
): string | null {
  if (pool.length > 0) return null;
  return file === source
    ? `note: --anchors ${file} is the evaluated requests' own file, never an anchor pool: ` +
      `the locality terms run without anchors`
    : `note: --anchors ${file} holds no requests: the locality terms run without anchors`;
}
