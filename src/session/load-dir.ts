// A model folder on disk (Deno) read into memory and built as a session model: each file is read
// as the command line's readers read theirs (a pipe or device is refused before it is opened,
// since reading it could block or never end; a GPT-2 folder's vocab.json and merges.txt stand in
// for a missing tokenizer.json), and an error names the file's path.

import type { Backend } from "../../engine/backend.ts";
import { checkRegularFile, exists, fsReason, joinPath, jsonReason } from "../io/files.ts";
import { slowTokenizerJson } from "../io/tokenizer.ts";
import type { WeightDtype } from "../model/dtype.ts";
import { loadModelFromFiles, type SessionModel } from "./load.ts";

/** A file's bytes; a missing optional file is null, any other failure names the path. */
async function readChecked(path: string, optional = false): Promise<Uint8Array | null> {
  try {
    if (optional && !(await exists(path))) return null;
    await checkRegularFile(path);
    return await Deno.readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read: ${fsReason(e)}`, { cause: e });
  }
}

/**
 * The folder's tokenizer.json parsed, or, without one, the tokenizer.json a GPT-2 folder's
 * vocab.json and merges.txt make (as the command line's loader reads them).
 */
async function tokenizerOf(dir: string, config: Record<string, unknown>): Promise<unknown> {
  const file = joinPath(dir, "tokenizer.json");
  const [vocabFile, mergesFile] = [joinPath(dir, "vocab.json"), joinPath(dir, "merges.txt")];
  if (!(await exists(file)) && (await exists(vocabFile)) && (await exists(mergesFile))) {
    const [vocab, merges] = await Promise.all([readChecked(vocabFile), readChecked(mergesFile)]);
    const text = new TextDecoder().decode(merges!);
    return slowTokenizerJson(vocabFile, parseJson(vocabFile, vocab!), mergesFile, text, config);
  }
  return parseJson(file, (await readChecked(file))!);
}

function parseJson(path: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${path}: not valid JSON: ${jsonReason(e)}`, { cause: e });
  }
}

/** Loads a model folder on disk (config.json, tokenizer.json or vocab.json and merges.txt, model.safetensors). */
export async function loadModelFromDir(
  dir: string,
  backend: Backend,
  dtype: WeightDtype = "auto",
): Promise<SessionModel> {
  const base = dir.replace(/\/+$/, "") || "/";
  const info = await Deno.stat(base).catch(() => null);
  if (info === null || !info.isDirectory) {
    throw new Error(`${dir}: ${info === null ? "no such folder" : "not a folder"}`);
  }
  const json = async (name: string, optional = false) => {
    const path = joinPath(base, name);
    const bytes = await readChecked(path, optional);
    return bytes === null ? undefined : parseJson(path, bytes);
  };
  const [config, tokenizerConfig, weights] = await Promise.all([
    json("config.json"),
    json("tokenizer_config.json", true),
    readChecked(joinPath(base, "model.safetensors")),
  ]);
  const tokenizer = await tokenizerOf(base, (tokenizerConfig ?? {}) as Record<string, unknown>);
  return await loadModelFromFiles(
    {
      source: base,
      config,
      tokenizer,
      tokenizerConfig: tokenizerConfig as Record<string, unknown> | undefined,
      weights: weights!,
    },
    backend,
    dtype,
  );
}
