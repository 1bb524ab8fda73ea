// Which files a model folder's tokenizer is built from, and the tokenizer.json they make, in the
// order transformers prefers them: tokenizer.json itself; GPT-2's slow-tokenizer files vocab.json
// and merges.txt (byte-level BPE, as GPT2TokenizerFast converts them); SentencePiece's
// tokenizer.model (as LlamaTokenizerFast converts it, sentencepiece.ts). Read from disk here, or
// from bytes a page fetched (tokenizerJsonOf).

import { byteLevelBpeJson, parseMergesText } from "./byte-level-bpe.ts";
import { TokenizerError } from "./errors.ts";
import { checkRegularFile, exists, fsReason, joinPath, jsonReason, readJsonFile } from "./files.ts";
import { isPlainObject } from "./json.ts";
import { sentencePieceJson } from "./sentencepiece.ts";

/** The ways a folder holds its tokenizer, most preferred first; each needs all of its files. */
export const TOKENIZER_SOURCES = [
  ["tokenizer.json"],
  ["vocab.json", "merges.txt"],
  ["tokenizer.model"],
] as const;

export type TokenizerSource = (typeof TOKENIZER_SOURCES)[number];

/**
 * The files a model folder's tokenizer is read from, which a copy of the folder (an edited
 * checkpoint) keeps: every source's files and tokenizer_config.json.
 */
export const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "vocab.json",
  "merges.txt",
  "tokenizer.model",
] as const;

/** A special token named in tokenizer_config.json: a string, or an AddedToken's content. */
function configToken(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  return isPlainObject(value) && typeof value.content === "string" ? value.content : undefined;
}

/**
 * The tokenizer.json that a GPT-2 checkpoint's slow-tokenizer files make (GPT2TokenizerFast's
 * conversion: byte-level BPE, the config's bos, eos, unk and pad tokens matched whole, its
 * add_prefix_space), from vocab.json parsed and merges.txt's text; the names are for errors.
 */
export function slowTokenizerJson(
  vocabFile: string,
  vocab: unknown,
  mergesFile: string,
  mergesText: string,
  config: Record<string, unknown>,
): Record<string, unknown> {
  if (!isPlainObject(vocab)) throw new TokenizerError(vocabFile, null, "not an object");
  const ids = new Map(Object.entries(vocab) as [string, number][]);
  const specials = ["bos_token", "eos_token", "unk_token", "pad_token"]
    .map((key) => configToken(config[key]))
    .filter((t): t is string => t !== undefined && ids.has(t));
  return byteLevelBpeJson(
    {
      vocab: ids,
      merges: parseMergesText(mergesFile, mergesText),
      specialTokens: [...new Set(specials)],
    },
    { prefixSpace: config.add_prefix_space === true },
  );
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(file, null, `not valid JSON: ${jsonReason(e)}`, { cause: e });
  }
}

function utf8(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new TokenizerError(file, null, "not valid UTF-8 text");
  }
}

/**
 * The tokenizer.json a source's files make: `bytes[i]` holds the file `source[i]`, `paths[i]`
 * names it in errors. `config` is the folder's tokenizer_config.json ({} when there is none).
 */
export function tokenizerJsonOf(
  source: TokenizerSource,
  bytes: readonly Uint8Array[],
  paths: readonly string[],
  config: Record<string, unknown>,
): unknown {
  switch (source[0]) {
    case "tokenizer.json":
      return parseJson(paths[0], utf8(paths[0], bytes[0]));
    case "vocab.json":
      return slowTokenizerJson(
        paths[0],
        parseJson(paths[0], utf8(paths[0], bytes[0])),
        paths[1],
        utf8(paths[1], bytes[1]),
        config,
      );
    case "tokenizer.model":
      return sentencePieceJson(paths[0], bytes[0], config);
  }
}

/** The first source whose files `dir` has, or null. */
export async function tokenizerSource(dir: string): Promise<TokenizerSource | null> {
  for (const source of TOKENIZER_SOURCES) {
    const have = await Promise.all(source.map((f) => exists(joinPath(dir, f))));
    if (have.every(Boolean)) return source;
  }
  return null;
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    await checkRegularFile(file); // a FIFO would block, a device never ends
    return await Deno.readFile(file);
  } catch (e) {
    throw new TokenizerError(file, null, `cannot read: ${fsReason(e)}`, { cause: e });
  }
}

/**
 * The tokenizer.json a model folder's tokenizer is built from (its first source), and the name
 * errors give it; a folder with no source is refused for its tokenizer.json. `config` is the
 * folder's tokenizer_config.json ({} when there is none).
 */
export async function readTokenizerJson(
  dir: string,
  config: Record<string, unknown>,
): Promise<{ file: string; json: unknown }> {
  const source = await tokenizerSource(dir) ?? TOKENIZER_SOURCES[0];
  const paths = source.map((f) => joinPath(dir, f));
  const bytes = await Promise.all(paths.map(readBytes));
  const file = paths.length === 1 ? paths[0] : `${paths[0]} and ${source.slice(1).join(", ")}`;
  return { file, json: tokenizerJsonOf(source, bytes, paths, config) };
}

/** `dir`'s tokenizer_config.json, parsed ({} when there is none; not an object: refused). */
export async function readTokenizerConfig(dir: string): Promise<Record<string, unknown>> {
  const file = joinPath(dir, "tokenizer_config.json");
  if (!(await exists(file))) return {};
  const config = await readJsonFile(
    file,
    (detail, cause) => new TokenizerError(file, null, detail, { cause }),
  );
  if (!isPlainObject(config)) {
    throw new TokenizerError(file, null, "tokenizer_config.json is not an object");
  }
  return config;
}
