// Guards around an edit run that protect the user's files and work: the output folder (and its
// OUT.partial sibling) may never be, contain, or lie inside the input model folder; a resumed run
// must have been started with the same settings (otherwise its saved records would be mixed with
// different ones); and a run that fails midway (an error, a lost WebGPU device) reports where
// its finished records are and how to continue.

import { createHash } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import type { Backend } from "../../engine/backend.ts";
import { readRegularText } from "../io/files.ts";
import { type Tokenizer, TokenizerError } from "../io/tokenizer.ts";

/**
 * The tokenizer with encode() checked: every id must be an integer inside its vocabulary. A
 * tokenizer.json can load and still encode to ids that are undefined, fractional or far past
 * the vocabulary (e.g. a Unigram unk_id of 10^9, a BPE unk_token missing from the vocab), and
 * those ids would index the embedding table out of bounds; and some malformed ones only fail
 * inside the library when they encode (TypeError...). Both become a TokenizerError.
 */
export function guardTokenizer(tok: Tokenizer): Tokenizer {
  return {
    file: tok.file,
    vocabSize: tok.vocabSize,
    encode(text, options) {
      let ids: number[];
      try {
        ids = tok.encode(text, options);
      } catch (e) {
        if (e instanceof TokenizerError) throw e;
        // The library fails on some malformed tokenizers only when it encodes.
        throw new TokenizerError(
          tok.file,
          null,
          `cannot encode ${JSON.stringify(text.slice(0, 60))}: ${(e as Error).message}`,
          { cause: e },
        );
      }
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize) {
          throw new TokenizerError(
            tok.file,
            null,
            `encodes ${JSON.stringify(text.slice(0, 60))} to token id ${
              String(id).slice(0, 40)
            }, outside [0, ${tok.vocabSize})`,
          );
        }
      }
      return ids;
    },
    decode(ids, options) {
      try {
        return tok.decode(ids, options);
      } catch (e) {
        if (e instanceof TokenizerError) throw e;
        throw new TokenizerError(tok.file, null, `cannot decode: ${(e as Error).message}`, {
          cause: e,
        });
      }
    },
    tokenToId: (token) => tok.tokenToId(token),
    idToToken: (id) => tok.idToToken(id),
  };
}

/** Most repeats in a row a pattern may hold (GPT-2's has 1, Llama 3's and Qwen2's 2). */
export const MAX_REPEATS_IN_A_ROW = 2;

/**
 * Why matching a regular expression could take time that grows fast with the text, or null:
 * - it repeats a group whose content can match in more than one way: a group quantified by a
 *   repeat (`*`, `+`, `{n,}`, `{n,m}` with m > 1) that holds a quantifier (`(a+)+`, `(\w+\s?)*`,
 *   `(a?){30}`, `(.*a){12}`) or an alternation (`(a|aa)+`, `(x|y)*`): exponential backtracking;
 * - or one alternative holds more than MAX_REPEATS_IN_A_ROW repeats in sequence (`a*a*a*$`,
 *   `.*x.*x.*x`), which backtracks with a polynomial of that degree (`a*a*a*a*a*a*a*a*$` took
 *   5.2 s on 41 letters).
 * What passes tries at most about n^2 ways per start position on a text of n characters. Real
 * tokenizer patterns (GPT-2, Llama 3, Qwen2) pass. Escapes and character classes are skipped;
 * lookarounds count like groups. The check is conservative: some safe patterns (`(ab|cd)+`,
 * `a*b*c*`) are refused too.
 */
export function backtrackingReason(re: string): string | null {
  // Per open group: does its content hold a quantifier, or an alternation at its own level; and
  // its repeats in a row: in the current alternative, and the most of the finished ones.
  type Frame = { quant: boolean; alt: boolean; row: number; most: number };
  const frame = (): Frame => ({ quant: false, alt: false, row: 0, most: 0 });
  const root = frame();
  const stack: Frame[] = [];
  const top = () => stack[stack.length - 1] ?? root;
  const quantAt = (k: number): { len: number; repeats: boolean } | null => {
    const c = re[k];
    if (c === "*" || c === "+") {
      return { len: re[k + 1] === "?" || re[k + 1] === "+" ? 2 : 1, repeats: true };
    }
    if (c === "?") return { len: re[k + 1] === "?" ? 2 : 1, repeats: false };
    const m = c === "{" ? /^\{(\d*)(,?)(\d*)\}/.exec(re.slice(k)) : null;
    if (!m) return null;
    const max = m[2] ? (m[3] === "" ? Infinity : Number(m[3])) : Number(m[1]);
    return { len: m[0].length, repeats: max > 1 };
  };
  const markQuant = () => {
    if (stack.length) stack[stack.length - 1].quant = true;
  };
  // An atom (or a group) that repeats, or the repeats in a row inside a group that does not.
  const addRow = (n: number) => {
    top().row += n;
  };
  const quantAfterAtom = (k: number): number => {
    const q = quantAt(k);
    if (q) markQuant();
    if (q?.repeats) addRow(1);
    return q ? q.len : 0;
  };
  let i = 0;
  while (i < re.length) {
    const c = re[i];
    if (c === "\\") {
      i += 2;
      i += quantAfterAtom(i);
    } else if (c === "[") {
      i++;
      if (re[i] === "^") i++;
      if (re[i] === "]") i++;
      while (i < re.length && re[i] !== "]") i += re[i] === "\\" ? 2 : 1;
      i++;
      i += quantAfterAtom(i);
    } else if (c === "(") {
      stack.push(frame());
      // Skip a group prefix: (?:  (?=  (?!  (?<=  (?<!  (?<name>  (?i:
      const prefix = /^\((\?(?:[:=!]|<[=!]|<[^>]*>|[a-zA-Z-]+:))?/.exec(re.slice(i))!;
      i += prefix[0].length;
    } else if (c === "|") {
      const f = top();
      f.alt = f !== root;
      f.most = Math.max(f.most, f.row);
      f.row = 0;
      i++;
    } else if (c === ")") {
      const inner = stack.pop() ?? frame();
      i++;
      const q = quantAt(i);
      if (q?.repeats && (inner.quant || inner.alt)) {
        return "it repeats a group that can match in several ways (a repeat or an alternation " +
          "inside): matching it can take exponential time";
      }
      if (q) i += q.len;
      if (inner.quant || q) markQuant();
      addRow(q?.repeats ? 1 : Math.max(inner.most, inner.row));
    } else {
      i++;
      i += quantAfterAtom(i);
    }
    // Repeats in a row on the path being read: the open groups' current alternatives.
    const rows = stack.reduce((a, f) => a + f.row, root.row);
    if (rows > MAX_REPEATS_IN_A_ROW) {
      return `it holds ${rows} or more repeats in a row (at most ${MAX_REPEATS_IN_A_ROW}): ` +
        `matching it can take time of degree ${rows} or more in the text's length`;
    }
  }
  return null;
}

/** Whether backtrackingReason finds a pattern that could make encoding take runaway time. */
export function backtrackingRisk(re: string): boolean {
  return backtrackingReason(re) !== null;
}

/**
 * Reads `<dir>/tokenizer.json` and refuses regular expressions (split and replace patterns,
 * anywhere in it) that backtrackingRisk flags, which could make encoding a prompt take
 * exponential time.
 */
export async function checkTokenizerFile(dir: string): Promise<void> {
  const file = join(dir, "tokenizer.json");
  let json: unknown;
  try {
    json = JSON.parse(await readRegularText(file));
  } catch {
    return; // loadTokenizer reports unreadable or invalid files
  }
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        const why = k === "Regex" && typeof x === "string" ? backtrackingReason(x) : null;
        if (why) {
          throw new TokenizerError(
            file,
            `${path}.Regex`.replace(/^\./, ""),
            `pattern ${JSON.stringify((x as string).slice(0, 60))}: ${why}, so this ` +
              `tokenizer is refused`,
          );
        }
        walk(x, `${path}.${k}`);
      }
    }
  };
  walk(json, "");
}

/** An output path or resume request that would damage inputs or mix results. */
export class GuardError extends Error {
  override name = "GuardError";
}

/** The real path of `p`, resolving the nearest existing ancestor when `p` does not exist. */
export async function realish(p: string): Promise<string> {
  const abs = resolve(p);
  let head = abs;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(await Deno.realPath(head), ...rest.reverse());
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      const up = dirname(head);
      if (up === head) return abs;
      rest.push(basename(head));
      head = up;
    }
  }
}

function related(a: string, b: string): "same" | "inside" | "contains" | null {
  if (a === b) return "same";
  const slash = (s: string) => (s.endsWith("/") ? s : s + "/");
  if (a.startsWith(slash(b))) return "inside";
  if (b.startsWith(slash(a))) return "contains";
  return null;
}

/**
 * Refuses an output folder that is the model folder, lies inside it, or contains it, and the
 * same for OUT.partial (the run writes there first and removes it with --force).
 */
export async function checkOutPath(out: string, modelDir: string): Promise<void> {
  const model = await realish(modelDir);
  for (const p of [out, `${out}.partial`]) {
    const r = related(await realish(p), model);
    if (r === null) continue;
    const what = r === "same"
      ? "is the input model folder"
      : r === "inside"
      ? "lies inside the input model folder"
      : "contains the input model folder";
    throw new GuardError(`--out ${out}: ${p} ${what} (${modelDir}); choose another --out`);
  }
}

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
  /** SHA-256 of the anchor prompts' token ids (the KL term's locality prompts). */
  anchors: string;
  count: number;
  /** The weights' identity (weightsIdentity): a resume on other weights would mix two models. */
  weights: string;
  /** SHA-256 of config.json, and of tokenizer.json (null when the folder has none). */
  config: string;
  tokenizer: string | null;
}

/** How a difference in each identity field is named in a refused resume. */
const DIFFERENT: Record<string, string> = {
  weights: "different weights (model.safetensors, size:sha256)",
  config: "a different config.json (sha256)",
  tokenizer: "a different tokenizer.json (sha256)",
};

/** Bytes read per step while hashing a file (the file is never held whole). */
const HASH_CHUNK = 8 * 2 ** 20;

/** The SHA-256 of a file's bytes, read in chunks, and its size. */
export async function fileSha256(path: string): Promise<{ size: number; sha256: string }> {
  const file = await Deno.open(path, { read: true });
  try {
    const hash = createHash("sha256");
    const buf = new Uint8Array(HASH_CHUNK);
    let size = 0;
    for (;;) {
      const n = await file.read(buf);
      if (n === null) break;
      hash.update(buf.subarray(0, n));
      size += n;
    }
    return { size, sha256: hash.digest("hex") };
  } finally {
    file.close();
  }
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

export async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const MANIFEST = "run.json";

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
      for (const [k, v] of Object.entries(manifest)) {
        if (JSON.stringify(old[k]) !== JSON.stringify(v)) {
          throw new GuardError(
            `cannot resume ${partial}: it was started with ${DIFFERENT[k] ?? `a different ${k}`} (${
              JSON.stringify(old[k])
            }, now ${JSON.stringify(v)}); rerun with the same options, or pass --force ` +
              `without --resume to start over`,
          );
        }
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

/** Whether the backend's device has been lost (WebGPU only; waits at most `ms`). */
export async function deviceLost(backend: Backend, ms = 200): Promise<string | null> {
  const device = (backend as Backend & { device?: GPUDevice }).device;
  if (backend.name !== "webgpu" || !device) return null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  try {
    const info = await Promise.race([device.lost, timeout]);
    return info ? (info.message || info.reason || "lost") : null;
  } finally {
    clearTimeout(timer);
  }
}

/** Exit status of a run stopped by a lost WebGPU device (results so far are saved). */
export const EXIT_DEVICE_LOST = 3;

/**
 * The message and exit status for an error thrown while editing: names OUT.partial and the
 * finished records it holds, and for a lost WebGPU device says so and how to continue.
 */
export async function describeFailure(
  e: unknown,
  backend: Backend,
  out: string,
): Promise<{ message: string; code: number }> {
  const partial = `${out}.partial`;
  const lost = await deviceLost(backend);
  const started = await Deno.stat(partial).then(() => true, () => false);
  if (!started && lost === null) return { message: (e as Error)?.message ?? String(e), code: 1 };
  const n = await savedRecords(partial);
  const saved = n > 0
    ? `${n} finished record${n === 1 ? " is" : "s are"} saved in ${partial}/records.jsonl`
    : `no record had finished (${partial} holds nothing to keep)`;
  const resume = n > 0 ? `; rerun with --resume --out ${out} to continue` : "";
  if (lost !== null) {
    return {
      message: `the WebGPU device was lost (${lost}) during the run; ${saved}${resume}` +
        `${resume ? " (add --backend wasm to continue without the GPU)" : ""}`,
      code: EXIT_DEVICE_LOST,
    };
  }
  return { message: `${(e as Error)?.message ?? String(e)}\n${saved}${resume}`, code: 1 };
}
