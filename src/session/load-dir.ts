// A model folder on disk built as a session model, in Deno only (a page has no disk: it loads a
// folder by URL or as its files, ./folder.ts; here it is refused by name, not "Deno is not
// defined"). Each file is read as the command line's readers read theirs (a pipe or device is
// refused before it is opened, since reading it could block or never end; the tokenizer and the
// weights are found as the command line finds them, the weights read a tensor at a time), and an
// error names the file's path: ModelFileError for the folder itself and its weights, ConfigError
// for config.json, TokenizerError for the tokenizer.

import type { Backend } from "../../engine/backend.ts";
import { openCheckpoint } from "../io/checkpoint.ts";
import { ConfigError, ModelFileError } from "../io/errors.ts";
import { joinPath, readJsonFile } from "../io/files.ts";
import { readTokenizerConfig, readTokenizerJson } from "../io/tokenizer-source.ts";
import type { WeightDtype } from "../model/dtype.ts";
import { loadModelFromFiles, type SessionModel } from "./load.ts";

/**
 * Loads a model folder on disk: config.json, its tokenizer (readTokenizerJson: tokenizer.json, or
 * what GPT-2's or SentencePiece's files make) and its weights (openCheckpoint). Deno only: outside
 * Deno (a browser) it throws a ModelFileError that says to use loadModelFromUrl or
 * loadModelFromFileMap.
 */
export async function loadModelFromDir(
  dir: string,
  backend: Backend,
  dtype: WeightDtype = "auto",
): Promise<SessionModel> {
  if (typeof Deno === "undefined") {
    throw new ModelFileError(
      dir,
      null,
      "loadModelFromDir reads a folder on disk, which only Deno can; elsewhere (a browser) load " +
        "it with loadModelFromUrl (its URL) or loadModelFromFileMap (its files)",
    );
  }
  const base = dir.replace(/\/+$/, "") || "/";
  const info = await Deno.stat(base).catch(() => null);
  if (info === null || !info.isDirectory) {
    throw new ModelFileError(dir, null, info === null ? "no such folder" : "not a folder");
  }
  const configPath = joinPath(base, "config.json");
  const [config, tokenizerConfig] = await Promise.all([
    readJsonFile(
      configPath,
      (detail, cause) => new ConfigError(configPath, null, detail, { cause }),
    ),
    readTokenizerConfig(base),
  ]);
  const { json: tokenizer } = await readTokenizerJson(base, tokenizerConfig);
  const weights = await openCheckpoint(base);
  try {
    return await loadModelFromFiles(
      {
        source: base,
        config,
        tokenizer,
        tokenizerConfig,
        weights,
      },
      backend,
      dtype,
    );
  } finally {
    weights.close();
  }
}
