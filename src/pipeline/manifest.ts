// The run manifest (OUT.partial/run.json): what a run was started with, down to the hashes of
// the model's files, so that a resume never mixes records of other settings or other weights.

import { createHash } from "node:crypto";
import { weightFiles } from "../io/checkpoint.ts";
import { fileSha256, sha256 } from "../io/digest.ts";
import { exists } from "../io/files.ts";
import { tokenizerSource } from "../io/tokenizer-source.ts";
import { GuardError } from "./output-guard.ts";
import type { RunOptions } from "./records.ts";

/** What a run was started with; a resume must match it. */
export interface RunManifest {
  method: string;
  mode: string;
  model: string;
  hparams: unknown;
  fluency: boolean;
  seed: number;
  /** SHA-256 of the requests (normalised, in order). */
  requests: string;
  /**
   * SHA-256 of the anchor pool (the KL term's locality prompts); null for a method that reads no
   * anchors with these hyperparameters (EditMethod.usesAnchors), whose records do not depend on
   * them: a changed pool then neither refuses its resume nor makes a comparison run it again.
   */
  anchors: string | null;
  count: number;
  /** The weights' identity (checkpointIdentity): a resume on other weights would mix two models. */
  weights: string;
  /**
   * SHA-256 of config.json, and of the tokenizer's source files (tokenizer.json, else GPT-2's
   * vocab.json and merges.txt or SentencePiece's tokenizer.model; with tokenizer_config.json: of
   * their hashes and its, since its special tokens and prefix space change the encoding; null when
   * the folder has no tokenizer).
   */
  config: string;
  tokenizer: string | null;
  /**
   * The device dtype of the weight matrices: f16 records' patches hold f16-rounded weights, so
   * records of the two would not make one run. (The backend may change: a run whose GPU was lost
   * continues on WASM.)
   */
  weightDtype: string;
}

/**
 * How a difference in each field is named in a refused resume; the fields held as hashes say
 * what differs without their values, the others show both values.
 */
const DIFFERENT: Partial<Record<keyof RunManifest, string>> = {
  count: "another number of requests",
  requests: "other requests (the same number, other contents)",
  anchors: "other anchor prompts",
  weights: "other weights (a changed weight file)",
  config: "another config.json",
  tokenizer: "another tokenizer (its files or its config changed)",
  hparams: "other hyperparameters",
  weightDtype: "another weight dtype (--dtype)",
};
const HASHED: readonly (keyof RunManifest)[] = [
  "requests",
  "anchors",
  "weights",
  "config",
  "tokenizer",
];

/** The manifest's tokenizer field (see RunManifest.tokenizer). */
async function tokenizerIdentity(dir: string): Promise<string | null> {
  const source = await tokenizerSource(dir);
  if (source === null) return null;
  const files = source.map((f) => `${dir}/${f}`);
  const config = `${dir}/tokenizer_config.json`;
  if (await exists(config)) files.push(config);
  if (files.length === 1) return (await fileSha256(files[0])).sha256;
  const hashes = await Promise.all(files.map(async (f) => (await fileSha256(f)).sha256));
  return createHash("sha256").update(hashes.join("\n")).digest("hex");
}

/**
 * The identity of a weights file: its size and the SHA-256 of all its bytes. Hashing streams at
 * about 0.8 GB/s (500 MB in 0.6 s on the loaded 2-core machine; a 7B f16 checkpoint in about
 * 17 s, less than reading it to load it), and a sample of blocks would miss what an edit
 * changes: a few entries in place, same size, same header.
 */
export async function weightsIdentity(path: string): Promise<string> {
  const { size, sha256 } = await fileSha256(path);
  return `${size}:sha256:${sha256}`;
}

/**
 * The identity of a folder's weights: model.safetensors's, or for a sharded checkpoint the hash of
 * its index's and every shard's identity (a changed byte in any of them shows).
 */
export async function checkpointIdentity(dir: string): Promise<string> {
  const files = await weightFiles(dir);
  if (files.length === 1) return await weightsIdentity(`${dir}/${files[0]}`);
  const each: string[] = [];
  for (const f of files) each.push(`${f}=${await weightsIdentity(`${dir}/${f}`)}`);
  return `${files.length} files:sha256:${await sha256(each.join("\n"))}`;
}

const MANIFEST = "run.json";

/** The manifest of a run of `opts`: its settings and the hashes of its inputs and model files. */
export async function runManifest(
  opts: Pick<
    RunOptions,
    | "method"
    | "mode"
    | "model"
    | "modelDir"
    | "hparams"
    | "fluency"
    | "seed"
    | "targets"
    | "anchors"
  >,
): Promise<RunManifest> {
  const halves = [...opts.model.params.values()].some((p) => p.value.dtype === "f16");
  return {
    method: opts.method.name,
    mode: opts.mode,
    model: await Deno.realPath(opts.modelDir).catch(() => opts.modelDir),
    hparams: opts.hparams,
    fluency: opts.fluency,
    seed: opts.seed,
    requests: await sha256(JSON.stringify(opts.targets.map((t) => t.request))),
    anchors: opts.method.usesAnchors(opts.hparams)
      ? await sha256(JSON.stringify(opts.anchors))
      : null,
    count: opts.targets.length,
    weights: await checkpointIdentity(opts.modelDir),
    config: (await fileSha256(`${opts.modelDir}/config.json`)).sha256,
    tokenizer: await tokenizerIdentity(opts.modelDir),
    weightDtype: halves ? "f16" : "f32",
  };
}

/** The first field of `manifest` that `old` (a run.json's contents) holds otherwise, or null. */
function firstDifference(
  old: Record<string, unknown>,
  manifest: RunManifest,
): keyof RunManifest | null {
  for (const k of Object.keys(manifest) as (keyof RunManifest)[]) {
    // A run that reads no anchors matches whatever pool its run.json names.
    if (k === "anchors" && manifest.anchors === null) continue;
    if (JSON.stringify(old[k]) !== JSON.stringify(manifest[k])) return k;
  }
  return null;
}

/**
 * Whether the run in `dir` was made as `manifest` says (its run.json matches): a finished run
 * that a caller may reuse instead of running again. False without a readable run.json.
 */
export async function sameRun(dir: string, manifest: RunManifest): Promise<boolean> {
  try {
    return firstDifference(JSON.parse(await Deno.readTextFile(`${dir}/${MANIFEST}`)), manifest) ===
      null;
  } catch {
    return false;
  }
}

/**
 * Writes `<partial>/run.json` for a new run, or, when resuming an existing partial folder,
 * checks that it was started with the same settings and model files. A folder without run.json
 * is resumed only when it holds no finished record (a crash before the manifest was written);
 * records of unknown settings and weights are never kept. Throws GuardError naming the first
 * difference.
 */
export async function checkManifest(
  partial: string,
  manifest: RunManifest,
  resuming: boolean,
): Promise<void> {
  const file = `${partial}/${MANIFEST}`;
  if (resuming) {
    let text: string | null = null;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (text !== null) {
      let old: Record<string, unknown>;
      try {
        old = JSON.parse(text);
      } catch {
        throw new GuardError(`${file} is not valid JSON; cannot tell what run this folder holds`);
      }
      let k = firstDifference(old, manifest);
      // Another --n changes the requests' hash too: the count says it plainly.
      if (k === "requests" && old.count !== manifest.count) k = "count";
      if (k !== null) {
        const values = HASHED.includes(k)
          ? ""
          : ` (${JSON.stringify(old[k])}, now ${JSON.stringify(manifest[k])})`;
        throw new GuardError(
          `cannot resume ${partial}: it was started with ${
            DIFFERENT[k] ?? `another ${k}`
          }${values}; rerun with the options it was started with, or pass --force without ` +
            `--resume to start over`,
        );
      }
      return;
    }
    const n = await savedRecords(partial);
    if (n > 0) {
      throw new GuardError(
        `cannot resume ${partial}: it holds ${n} finished record(s) but no ${MANIFEST}, so the ` +
          `settings and weights that made them are unknown; pass --force without --resume to ` +
          `start over`,
      );
    }
  }
  await Deno.writeTextFile(file, JSON.stringify(manifest, null, 2) + "\n");
}

/** Complete JSON lines of records.jsonl (a line cut by a crash is not counted). */
export async function savedRecords(partial: string): Promise<number> {
  let text = "";
  try {
    text = await Deno.readTextFile(`${partial}/records.jsonl`);
  } catch {
    return 0;
  }
  let n = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      JSON.parse(line);
      n++;
    } catch {
      // cut line
    }
  }
  return n;
}
