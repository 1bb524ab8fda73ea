// A model folder read without a file system: fetched from a base URL (http(s): a page; file:
// Deno) or given as its files (a folder a page's user picked). Its files are found as the command
// line finds a folder's on disk: config.json, the first tokenizer source
// (tokenizer.json, GPT-2's vocab.json and merges.txt, SentencePiece's tokenizer.model), an
// optional tokenizer_config.json, and the first weight layout (model.safetensors, a shard index
// and its shards, pytorch_model.bin). The weight files are held once while their tensors go onto
// the backend. Every failure is the typed error of the file at fault: ConfigError for config.json,
// TokenizerError for a tokenizer's files, ModelFileError for the weights.

import type { Backend } from "../../engine/backend.ts";
import { WEIGHT_LAYOUTS, weightsFromBytes } from "../io/checkpoint/layout.ts";
import { joinShards, parseShardIndex } from "../io/checkpoint/sharded.ts";
import { ConfigError, ModelFileError, TokenizerError } from "../io/errors.ts";
import { jsonReason } from "../io/files.ts";
import { isPlainObject } from "../io/json.ts";
import type { SafetensorsFile } from "../io/safetensors.ts";
import { TOKENIZER_FILES, TOKENIZER_SOURCES, tokenizerJsonOf } from "../io/tokenizer-source.ts";
import type { ModelConfig } from "../model/config.ts";
import type { WeightDtype } from "../model/dtype.ts";
import { parseModelConfig } from "../model/read-config.ts";
import { loadModelFromFiles, type ModelFiles, type SessionModel } from "./load.ts";

/** A folder's files by name. */
interface Folder {
  /** What names the folder in messages (its URL, or a label). */
  readonly source: string;
  /** Names a file in errors. */
  label(name: string): string;
  /** The file's bytes, or null when the folder has no such file. */
  read(name: string): Promise<Uint8Array | null>;
}

/**
 * The error of the folder's file `name` (at `label`): ConfigError for config.json, TokenizerError
 * for a tokenizer's files, ModelFileError for the rest (the weights), as the disk loader's.
 */
function fileError(name: string, label: string, detail: string, cause?: unknown): Error {
  const Kind = name === "config.json"
    ? ConfigError
    : (TOKENIZER_FILES as readonly string[]).includes(name)
    ? TokenizerError
    : ModelFileError;
  return new Kind(label, null, detail, cause === undefined ? undefined : { cause });
}

/** The file `name` at `url`; null when there is none (404, or a missing file: URL). */
async function fetchFile(url: URL, name: string): Promise<Response | null> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    // A missing file: URL is an error in Deno's fetch, where HTTP answers 404.
    if (url.protocol === "file:") return null;
    throw fileError(name, url.href, (e as Error).message, e);
  }
  if (res.ok) return res;
  await res.body?.cancel();
  if (res.status === 404) return null;
  throw fileError(name, url.href, `HTTP ${res.status} ${res.statusText}`);
}

/** The folder at a base URL; a file's URL escapes its name, so no name leaves the folder. */
function urlFolder(dir: URL): Folder {
  const url = (name: string) => new URL(`./${encodeURIComponent(name)}`, dir);
  return {
    source: dir.href.replace(/\/$/, ""),
    label: (name) => url(name).href,
    read: async (name) => {
      const res = await fetchFile(url(name), name);
      return res ? new Uint8Array(await res.arrayBuffer()) : null;
    },
  };
}

/**
 * A folder given as its files by name: bytes, or Blobs (a page's File objects) read only when the
 * loader asks for them, so a folder that also holds other formats' weights costs no more.
 */
function memoryFolder(source: string, files: ReadonlyMap<string, Uint8Array | Blob>): Folder {
  return {
    source,
    label: (name) => `${source}/${name}`,
    read: async (name) => {
      const file = files.get(name);
      if (file === undefined) return null;
      return file instanceof Uint8Array ? file : new Uint8Array(await file.arrayBuffer());
    },
  };
}

/** The file's bytes; missing: refused, `why` (", though ...") after "not found". */
async function required(folder: Folder, name: string, why = ""): Promise<Uint8Array> {
  const bytes = await folder.read(name);
  if (bytes === null) throw fileError(name, folder.label(name), `not found${why}`);
  return bytes;
}

function parseJson(folder: Folder, name: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw fileError(name, folder.label(name), `not valid JSON: ${jsonReason(e)}`, e);
  }
}

/** The tokenizer.json of the folder's first tokenizer source; none: refused for tokenizer.json. */
async function tokenizerJson(folder: Folder, config: Record<string, unknown>): Promise<unknown> {
  for (const source of TOKENIZER_SOURCES) {
    const found = await Promise.all(source.map((f) => folder.read(f)));
    if (found.every((b) => b !== null)) {
      return tokenizerJsonOf(source, found as Uint8Array[], source.map(folder.label), config);
    }
  }
  return await required(folder, "tokenizer.json"); // none: throws, naming it
}

/** The folder's weights in the first layout it has; none: refused for model.safetensors. */
async function weights(folder: Folder): Promise<Uint8Array | SafetensorsFile> {
  for (const layout of WEIGHT_LAYOUTS) {
    const bytes = await folder.read(layout.file);
    if (bytes === null) continue;
    const label = folder.label(layout.file);
    if (!layout.sharded) {
      return layout.file === "model.safetensors" ? bytes : await weightsFromBytes(label, bytes);
    }
    const index = parseShardIndex(label, parseJson(folder, layout.file, bytes));
    // Worded as the disk loader words it (src/io/checkpoint.ts).
    const listed = `, though ${layout.file} lists it (an unfinished download?)`;
    const shards = await Promise.all(
      index.shards.map(async (s) =>
        weightsFromBytes(folder.label(s), await required(folder, s, listed))
      ),
    );
    return joinShards(index, new Map(index.shards.map((s, i) => [s, shards[i]])));
  }
  return await required(folder, "model.safetensors"); // none: throws, naming it
}

/** Throws when a model of this config must not be loaded (e.g. it cannot fit the backend). */
export type ConfigCheck = (config: ModelConfig) => void;

async function loadFolder(
  folder: Folder,
  backend: Backend,
  dtype: WeightDtype,
  check?: ConfigCheck,
): Promise<SessionModel> {
  const [config, tokenizerConfig] = await Promise.all([
    required(folder, "config.json").then((b) => {
      const json = parseJson(folder, "config.json", b);
      // Before any weight file is read: a model that cannot fit is refused here.
      check?.(parseModelConfig(json, folder.label("config.json")));
      return json;
    }),
    folder.read("tokenizer_config.json").then((b) =>
      b === null ? undefined : parseJson(folder, "tokenizer_config.json", b)
    ),
  ]);
  if (tokenizerConfig !== undefined && !isPlainObject(tokenizerConfig)) {
    throw fileError(
      "tokenizer_config.json",
      folder.label("tokenizer_config.json"),
      "not a JSON object",
    );
  }
  const files: ModelFiles = {
    source: folder.source,
    config,
    tokenizer: await tokenizerJson(folder, tokenizerConfig ?? {}),
    tokenizerConfig,
    weights: await weights(folder),
  };
  return await loadModelFromFiles(files, backend, dtype);
}

/**
 * Fetches a model folder's files from `base` (an absolute folder URL: http(s):, or file: in Deno)
 * and builds the model; a relative path is a TypeError saying so.
 */
export async function loadModelFromUrl(
  base: string | URL,
  backend: Backend,
  dtype: WeightDtype = "auto",
): Promise<SessionModel> {
  let dir: URL;
  try {
    dir = new URL(String(base).endsWith("/") ? String(base) : `${base}/`);
  } catch (e) {
    // new URL's own words ("Invalid URL: 'models/kne-facts/'") did not say what it takes.
    throw new TypeError(
      `loadModelFromUrl: ${
        JSON.stringify(String(base))
      } is not an absolute URL (http:, https: or ` +
        "file:); a folder on disk loads with loadModelFromDir",
      { cause: e },
    );
  }
  return await loadFolder(urlFolder(dir), backend, dtype);
}

/**
 * Builds the model of a folder given as its files by file name, bytes or Blobs (e.g. the File
 * objects of a folder a page's user picked, read only as needed); `source` names it in messages.
 * `check` sees the parsed config.json before any weight file is read (the page refuses a model
 * that cannot fit there).
 */
export async function loadModelFromFileMap(
  source: string,
  files: ReadonlyMap<string, Uint8Array | Blob>,
  backend: Backend,
  dtype: WeightDtype = "auto",
  check?: ConfigCheck,
): Promise<SessionModel> {
  return await loadFolder(memoryFolder(source, files), backend, dtype, check);
}
