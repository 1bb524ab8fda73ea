// The output-folder rules shared by every command that writes a folder (scripts/edit.ts,
// scripts/compare.ts through run.ts, scripts/patch.ts, scripts/train.ts): OUT and OUT.partial may not be, contain
// or lie inside the input model folder, nor hold an input file; each output folder carries a
// marker file, and only a real folder with that marker is ever removed or replaced, whatever
// --force says, and by --force only one that the same command wrote (the marker's kind: a trace
// never replaces a trained model); OUT.partial is written under an exclusive lock (OUT.lock,
// holding the pid).

import { basename, dirname, join, resolve } from "node:path";
import { FileSystemError } from "../io/errors.ts";
import { fsError, present } from "../io/files.ts";
import { WEIGHT_LAYOUTS } from "../io/checkpoint/layout.ts";

/** An output path or resume request that would damage inputs or mix results. */
export class GuardError extends Error {
  /** "GuardError", which String(error) and the stack print before the message. */
  override name = "GuardError";
}

/** The refusal of an existing output folder of this tool without --force (checkOutputFolder). */
export class OutputExists extends GuardError {
  override name = "OutputExists";
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

async function hasWeights(dir: string): Promise<boolean> {
  for (const { file } of WEIGHT_LAYOUTS) if (await present(join(dir, file))) return true;
  return false;
}

/** Whether `dir` holds a model: its config.json and weights in one of the layouts read. */
export async function isModelFolder(dir: string): Promise<boolean> {
  return await present(join(dir, "config.json")) && await hasWeights(dir);
}

/**
 * Refuses an output path below a model folder (config.json and weights: model.safetensors, a
 * shard index or pytorch_model.bin): a training run or a tokenizer written there would leave its
 * OUT.partial, checkpoint and lock among a model's files. OUT itself may be a model folder; the
 * commands' own rules say when it is replaced.
 */
export async function checkNotInsideModel(out: string): Promise<void> {
  // A path through a file cannot be resolved: the command's own write says so in its words.
  const real = await realish(out).catch(() => null);
  if (real === null) return;
  for (let dir = dirname(real);; dir = dirname(dir)) {
    if (await isModelFolder(dir)) {
      throw new GuardError(
        `--out ${out} lies inside the model folder ${dir}; choose another --out`,
      );
    }
    if (dirname(dir) === dir) return;
  }
}

/** The marker file written into every output folder of this tool. */
export const OUTPUT_MARKER = ".kne-output";

/** Writes the marker into `dir` (a folder this tool has just created or validated). */
export async function markOutput(dir: string, kind: string): Promise<void> {
  await Deno.writeTextFile(
    `${dir}/${OUTPUT_MARKER}`,
    JSON.stringify({ tool: "kne", kind }) + "\n",
  );
}

/** What each command's marker kind holds, for messages. */
const KIND_NAMES: Record<string, string> = {
  edit: "an edit's results (deno task edit)",
  compare: "a comparison (deno task compare)",
  train: "a trained model (deno task train)",
  checkpoint: "a training checkpoint (deno task train)",
  patch: "a patched model (deno task patch)",
  trace: "a causal trace (deno task trace)",
  tune: "a hyperparameter search (bench/tune.ts)",
};

/**
 * The kind of output `dir`'s marker names ("edit", "train"...), or null when it names none (a
 * marker of before kinds were written, or one that is not JSON).
 */
export async function markerKind(dir: string): Promise<string | null> {
  const file = `${dir}/${OUTPUT_MARKER}`;
  const info = await Deno.lstat(file).catch(() => null);
  // A marker is one short line; anything else is read as naming no kind.
  if (!info?.isFile || info.size > 4096) return null;
  try {
    const kind = JSON.parse(await Deno.readTextFile(file))?.kind;
    return typeof kind === "string" && kind !== "" ? kind : null;
  } catch {
    return null;
  }
}

/**
 * Throws GuardError when `dir` holds another command's output than `kind` (its marker's kind): a
 * command replaces, even with --force, only what it wrote itself.
 */
export async function checkKind(dir: string, kind: string): Promise<void> {
  const found = await markerKind(dir);
  if (found === null || found === kind) return;
  throw new GuardError(
    `${dir} holds ${KIND_NAMES[found] ?? `another command's output (${found})`}, not ` +
      `${KIND_NAMES[kind] ?? `this command's output (${kind})`}: this command never replaces ` +
      `it or writes into it, even with --force; choose another --out`,
  );
}

/** What a path is, for messages: "a symbolic link", "a file", "a folder", "a device...". */
export function kindOf(info: Deno.FileInfo): string {
  if (info.isSymlink) return "a symbolic link";
  if (info.isFile) return "a file";
  if (info.isDirectory) return "a folder";
  return "a device, socket or pipe";
}

/**
 * Throws GuardError unless `path` is absent or a real folder (not a link) holding this tool's
 * marker: the only kind of path this tool may remove or replace.
 */
export async function checkReplaceable(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (!info.isDirectory) {
    throw new GuardError(
      `${path} is ${kindOf(info)}, not an output folder of this tool; it is never replaced ` +
        `(choose another --out)`,
    );
  }
  const marker = await Deno.lstat(`${path}/${OUTPUT_MARKER}`).catch(() => null);
  if (!marker?.isFile) {
    throw new GuardError(
      `${path} was not written by this tool (no ${OUTPUT_MARKER} marker in it), so it is never ` +
        `removed, even with --force; choose another --out or remove it yourself`,
    );
  }
}

/** Removes `path` if it is an output folder of this tool (checkReplaceable); absent is fine. */
export async function removeOutput(path: string): Promise<void> {
  await checkReplaceable(path);
  await Deno.remove(path, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/**
 * The output rules of every command that writes a folder, checked before any work: OUT and
 * OUT.partial may not be, contain or lie inside the input model folder if there is one
 * (checkOutPath), nor be or
 * contain an input file (the patch, the requests...; symbolic links resolved); an existing OUT
 * is replaced only with `force`, and only when it is an output folder of this tool (of the
 * same command, when `kind` is given), as is OUT.old (a leftover of an interrupted replacement,
 * removed when the new OUT is renamed in). Throws GuardError.
 */
export async function checkOutputFolder(
  out: string,
  opts: OutputFolderRules,
): Promise<void> {
  await asGuardError(out, () => checkFolder(out, opts));
}

/** What checkOutputFolder checks OUT against. */
export interface OutputFolderRules {
  /** The input model folder, which OUT and OUT.partial may not be, contain or lie inside. */
  model?: string;
  /** Input files (patch, requests...) that OUT and OUT.partial may not be or contain. */
  inputs?: readonly string[];
  /** --force: replace an existing OUT (only an output folder of this tool). */
  force: boolean;
  /** The marker kind this command writes: an existing OUT of another kind is refused. */
  kind?: string;
}

/** Runs `f`, turning raw OS errors (a path through a file, a read-only disk) into GuardError. */
async function asGuardError<T>(out: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const fe = fsError(e);
    if (fe instanceof FileSystemError) throw new GuardError(`--out ${out}: ${fe.message}`);
    throw e;
  }
}

async function checkFolder(out: string, opts: OutputFolderRules): Promise<void> {
  if (opts.model !== undefined) await checkOutPath(out, opts.model);
  // Real paths: an input reached through a symbolic link (to it or to a folder above it) is
  // still inside OUT when its target is.
  for (const input of opts.inputs ?? []) {
    const file = await realish(input);
    for (const p of [out, `${out}.partial`]) {
      const dir = await realish(p);
      if (file === dir || file.startsWith(dir + "/")) {
        throw new GuardError(`--out ${out}: ${p} would replace the input ${input}`);
      }
    }
  }
  if (await present(out)) {
    // A path --force could not replace either is refused as such, not with a --force hint.
    await checkReplaceable(out);
    if (opts.kind !== undefined) await checkKind(out, opts.kind);
    if (!opts.force) {
      throw new OutputExists(`${out} exists; choose another --out or pass --force to replace it`);
    }
  }
  await checkReplaceable(`${out}.old`);
}

/** Whether process `pid` is alive (Linux /proc; elsewhere assumed alive). */
async function alive(pid: number): Promise<boolean> {
  if (!(await Deno.stat("/proc/self").then(() => true, () => false))) return true;
  return await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
}

/**
 * Takes the exclusive lock of OUT (the file OUT.lock, created only if absent, holding the pid),
 * so two runs never write or remove the same OUT.partial. A lock whose process is dead (a killed
 * run) is taken over; anything else at OUT.lock (a live run's lock, a file that does not hold a
 * pid, a folder, a pipe) is refused and left alone. The lock is removed when the process exits
 * (also through Deno.exit). Returns a function that releases it earlier.
 */
export function lockOutput(out: string): Promise<() => void> {
  return asGuardError(out, () => takeLock(out));
}

/** A lock file of this tool is a short regular file: a pid and a newline (or empty, if cut). */
const LOCK_TEXT = /^(?:(\d{1,10})\n?)?$/;

async function takeLock(out: string): Promise<() => void> {
  const file = `${out}.lock`;
  // The lock sits beside OUT: its folder (e.g. out/ of a fresh clone) may not exist yet.
  await Deno.mkdir(dirname(resolve(file)), { recursive: true });
  for (let attempt = 0;; attempt++) {
    try {
      await Deno.writeTextFile(file, `${Deno.pid}\n`, { createNew: true });
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      if (attempt > 0) {
        throw new GuardError(`${file} was taken by another run while this one started`);
      }
    }
    // Read only a regular file, and a short one: a pipe would block, a device never end.
    const info = await Deno.lstat(file).catch(() => null);
    if (info === null) continue; // released meanwhile
    const text = info.isFile && info.size <= 16 ? await Deno.readTextFile(file) : null;
    const m = text === null ? null : LOCK_TEXT.exec(text);
    if (!m) {
      throw new GuardError(
        `${file} is ${info.isFile ? "a file that does not hold a process id" : kindOf(info)}, ` +
          `not a lock of this tool; it is never removed (remove it yourself or choose another ` +
          `--out)`,
      );
    }
    const pid = Number(m[1]);
    if (m[1] !== undefined && pid > 0 && await alive(pid)) {
      throw new GuardError(
        `another run (pid ${pid}) is writing ${out}.partial (lock ${file}); wait for it to ` +
          `finish or stop it, or choose another --out`,
      );
    }
    // The lock of a dead process (or one cut before its pid was written): take it over.
    await Deno.remove(file).catch(() => {});
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    globalThis.removeEventListener("unload", release);
    try {
      if (Deno.readTextFileSync(file).trim() === String(Deno.pid)) Deno.removeSync(file);
    } catch {
      // already gone
    }
  };
  globalThis.addEventListener("unload", release);
  return release;
}
