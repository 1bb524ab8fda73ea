// Loads a Hugging Face checkpoint from a base URL (http(s): a page; file: Deno) or from its files'
// contents already in memory: config.json, tokenizer.json (or the one a GPT-2 folder's vocab.json
// and merges.txt or a Llama folder's tokenizer.model make), an optional tokenizer_config.json and
// the weights (model.safetensors, or the next
// layout transformers would read: a shard index and its shards, pytorch_model.bin). The fetched
// weight files are held once while their tensors go onto the backend.

import type { Backend } from "../../engine/backend.ts";
import { WEIGHT_LAYOUTS, weightsFromBytes } from "../io/checkpoint/layout.ts";
import { joinShards, parseShardIndex } from "../io/checkpoint/sharded.ts";
import { type SafetensorsFile, safetensorsFromBytes } from "../io/safetensors.ts";
import { type Tokenizer, tokenizerFromJson } from "../io/tokenizer.ts";
import { TOKENIZER_SOURCES, tokenizerJsonOf } from "../io/tokenizer-source.ts";
import type { ModelConfig } from "../model/config.ts";
import { resolveWeightDtype, type WeightDtype } from "../model/dtype.ts";
import type { CausalLM } from "../model/lm.ts";
import { parseModelConfig } from "../model/read-config.ts";
import { type LoadedWeights, loadWeights } from "../model/weights.ts";

export interface SessionModel {
  /** Where it came from (a URL or a label), for messages. */
  source: string;
  config: ModelConfig;
  model: CausalLM;
  tokenizer: Tokenizer;
  weights: Omit<LoadedWeights, "model">;
}

export interface ModelFiles {
  /** Names the model in errors (e.g. its URL). */
  source: string;
  /** config.json, parsed. */
  config: unknown;
  /** tokenizer.json, parsed. */
  tokenizer: unknown;
  /** tokenizer_config.json, parsed (absent: none). */
  tokenizerConfig?: Record<string, unknown>;
  /**
   * model.safetensors's bytes, or a checkpoint already opened (a folder's file or its shards
   * joined), which is read and left open.
   */
  weights: Uint8Array | SafetensorsFile;
}

/** Builds the model from its files' contents (every check of the folder loader but the plan). */
export async function loadModelFromFiles(
  files: ModelFiles,
  backend: Backend,
  dtype: WeightDtype = "auto",
): Promise<SessionModel> {
  const at = (name: string) => `${files.source}/${name}`;
  const config = parseModelConfig(files.config, at("config.json"));
  const tokenizer = tokenizerFromJson(
    at("tokenizer.json"),
    files.tokenizer,
    files.tokenizerConfig ?? {},
    config.vocabSize,
  );
  const file = files.weights instanceof Uint8Array
    ? safetensorsFromBytes(at("model.safetensors"), files.weights)
    : files.weights;
  const stored = [...file.tensors.values()].map((t) => t.dtype);
  const device = resolveWeightDtype(dtype, backend, stored);
  const { model, ...weights } = await loadWeights(file, config, device, backend);
  return { source: files.source, config, model, tokenizer, weights };
}

async function fetchOk(url: URL, optional = false): Promise<Response | null> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    // A missing file: URL is an error in Deno's fetch, where HTTP answers 404.
    if (optional && url.protocol === "file:") return null;
    throw new Error(`${url}: ${(e as Error).message}`, { cause: e });
  }
  if (res.ok) return res;
  await res.body?.cancel();
  if (optional && res.status === 404) return null;
  throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
}

async function jsonOf(res: Response, url: URL): Promise<unknown> {
  try {
    return await res.json();
  } catch (e) {
    throw new Error(`${url}: not valid JSON: ${(e as Error).message}`);
  }
}

async function fetchJson(url: URL): Promise<unknown> {
  return await jsonOf((await fetchOk(url))!, url);
}

/**
 * The tokenizer.json of the folder at `dir`, from its first tokenizer source (TOKENIZER_SOURCES:
 * tokenizer.json, GPT-2's vocab.json and merges.txt, SentencePiece's tokenizer.model) as the
 * command line reads it; a folder with none is refused for its tokenizer.json.
 */
async function fetchTokenizerJson(dir: URL, config: Record<string, unknown>): Promise<unknown> {
  for (const source of TOKENIZER_SOURCES) {
    const urls = source.map((f) => new URL(f, dir));
    const found = await Promise.all(urls.map((u) => fetchOk(u, true)));
    if (found.every((r) => r !== null)) {
      const bytes = await Promise.all(
        found.map(async (r) => new Uint8Array(await r!.arrayBuffer())),
      );
      return tokenizerJsonOf(source, bytes, urls.map((u) => u.href), config);
    }
    await Promise.all(found.map((r) => r?.body?.cancel()));
  }
  return await fetchJson(new URL("tokenizer.json", dir)); // none: throws, naming it
}

async function fetchBytes(url: URL): Promise<Uint8Array> {
  return new Uint8Array(await (await fetchOk(url))!.arrayBuffer());
}

/**
 * The weights at `dir`, in the first layout it has (WEIGHT_LAYOUTS): one file, or a shard index
 * and its shards, each checked and joined; a folder with none is refused for model.safetensors.
 */
async function fetchWeights(dir: URL): Promise<Uint8Array | SafetensorsFile> {
  for (const layout of WEIGHT_LAYOUTS) {
    const url = new URL(layout.file, dir);
    const res = await fetchOk(url, true);
    if (!res) continue;
    if (!layout.sharded) {
      const bytes = new Uint8Array(await res.arrayBuffer());
      return layout.file === "model.safetensors" ? bytes : await weightsFromBytes(url.href, bytes);
    }
    const index = parseShardIndex(url.href, await jsonOf(res, url));
    // "./" and the escaping keep a shard named like "https:host" inside the folder.
    const urls = index.shards.map((s) => new URL(`./${encodeURIComponent(s)}`, dir));
    const bytes = await Promise.all(urls.map(fetchBytes));
    const files = await Promise.all(urls.map((u, i) => weightsFromBytes(u.href, bytes[i])));
    return joinShards(index, new Map(index.shards.map((s, i) => [s, files[i]])));
  }
  return await fetchBytes(new URL("model.safetensors", dir)); // none: throws, naming it
}

/** Fetches a model folder's files from `base` (a folder URL) and builds the model. */
export async function loadModelFromUrl(
  base: string | URL,
  backend: Backend,
  dtype: WeightDtype = "auto",
): Promise<SessionModel> {
  const dir = new URL(String(base).endsWith("/") ? String(base) : `${base}/`);
  const [config, tokenizerConfig, weights] = await Promise.all([
    fetchJson(new URL("config.json", dir)),
    fetchOk(new URL("tokenizer_config.json", dir), true).then((r) => r?.json()),
    fetchWeights(dir),
  ]);
  const tokenizer = await fetchTokenizerJson(dir, tokenizerConfig ?? {});
  return await loadModelFromFiles(
    { source: dir.href.replace(/\/$/, ""), config, tokenizer, tokenizerConfig, weights },
    backend,
    dtype,
  );
}
