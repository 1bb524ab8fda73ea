// A model folder on disk (Deno) built as a session model: each file is read as the command line's
// readers read theirs (a pipe or device is refused before it is opened, since reading it could
// block or never end; a GPT-2 folder's vocab.json and merges.txt stand in for a missing
// tokenizer.json; the weights are model.safetensors or its shards, read a tensor at a time), and
// an error names the file's path.

import type { Backend } from "../../engine/backend.ts";
import { openCheckpoint } from "../io/checkpoint.ts";
import { checkRegularFile, exists, fsReason, joinPath, jsonReason } from "../io/files.ts";
import { readTokenizerJson } from "../io/tokenizer-source.ts";
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

function parseJson(path: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${path}: not valid JSON: ${jsonReason(e)}`, { cause: e });
  }
}

/**
 * Loads a model folder on disk: config.json, its tokenizer (readTokenizerJson: tokenizer.json or a
 * GPT-2 folder's vocab.json and merges.txt) and model.safetensors (or its shards).
 */
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
  const [config, tokenizerConfig] = await Promise.all([
    json("config.json"),
    json("tokenizer_config.json", true),
  ]);
  const { json: tokenizer } = await readTokenizerJson(
    base,
    (tokenizerConfig ?? {}) as Record<string, unknown>,
  );
  const weights = await openCheckpoint(base);
  try {
    return await loadModelFromFiles(
      {
        source: base,
        config,
        tokenizer,
        tokenizerConfig: tokenizerConfig as Record<string, unknown> | undefined,
        weights,
      },
      backend,
      dtype,
    );
  } finally {
    weights.close();
  }
}
