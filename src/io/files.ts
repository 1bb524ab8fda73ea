// File-system helpers for outputs: whether a path exists, and replacing a folder by renames only
// (the old folder is first moved aside as DIR.old, the new one renamed in, then the old one
// removed), so at every instant either the old or the new complete folder exists under a known
// name and nothing is ever half written at DIR; a text file is replaced the same way (a
// temporary beside it renamed over it). Also: reading only regular files (a FIFO would
// block, /dev/zero never ends), and raw OS errors turned into FileSystemError naming the path.

import { FileSystemError } from "./errors.ts";

/** Whether `path` exists (links followed); errors other than NotFound propagate. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Whether anything is at `path`, a link not followed (a dangling link is there); never throws. */
export function present(path: string): Promise<boolean> {
  return Deno.lstat(path).then(() => true, () => false);
}

/** Renames the complete folder `from` to `to`, replacing what `to` held. Same filesystem only. */
export async function replaceDir(from: string, to: string): Promise<void> {
  const old = `${to}.old`;
  await Deno.remove(old, { recursive: true }).catch(() => {});
  const had = await exists(to);
  if (had) await Deno.rename(to, old);
  await Deno.rename(from, to);
  if (had) await Deno.remove(old, { recursive: true });
}

/** Writes `text` to `path` whole: into a temporary beside it, then renamed over it. */
export async function writeTextAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Writes several files as one set: each text into a temporary beside its path (`PATH.<pid>.tmp`,
 * flushed to the disk), then, once all are written, each renamed over its path. A failure before
 * the renames (a full disk, an unwritable folder, a path that is a folder) removes the temporaries
 * and leaves every old file as it was; only a kill or a crash between the first and the last
 * rename (moments) can leave some files old and some new.
 */
export async function writeTextFilesTogether(
  files: readonly (readonly [path: string, text: string])[],
): Promise<void> {
  const tmps: string[] = [];
  try {
    for (const [path, text] of files) {
      // A folder (or anything but a file) at a path would refuse its rename after others were
      // renamed: refused before.
      const info = await Deno.lstat(path).catch(() => null);
      if (info !== null && !info.isFile) {
        throw new Error(`${path} is not a file; it is never replaced`);
      }
      const tmp = `${path}.${Deno.pid}.tmp`;
      tmps.push(tmp);
      const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
      try {
        const bytes = new TextEncoder().encode(text);
        for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
        await file.syncData();
      } finally {
        file.close();
      }
    }
  } catch (e) {
    for (const tmp of tmps) await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  for (const [i, [path]] of files.entries()) await Deno.rename(tmps[i], path);
}

/** What Deno's syscall names mean, for messages. */
const OPS: Record<string, string> = {
  open: "open",
  readfile: "read",
  writefile: "write",
  mkdir: "create the folder",
  realpath: "resolve",
  rename: "rename",
  remove: "remove",
  stat: "inspect",
  lstat: "inspect",
  copy: "copy",
  copy_file: "copy",
  readdir: "list",
};

/** Plain words for the OS error codes users meet (Linux numbering). */
const CODES: Record<number, string> = {
  1: "operation not permitted",
  2: "no such file or folder (or a folder on its path is missing)",
  13: "permission denied",
  17: "something already exists there",
  20: "a part of the path is a file, not a folder",
  21: "it is a folder, not a file",
  28: "no space left on the device",
  30: "the file system is read-only",
  36: "the name is too long",
  39: "the folder is not empty",
  122: "the disk quota is exceeded",
};

/**
 * Turns a raw OS error of Deno (`Not a directory (os error 20): realpath '/x/y'`) into a
 * FileSystemError naming the path and the operation in words; anything else is returned as is.
 */
export function fsError(e: unknown): unknown {
  // Only Deno's own errors: a typed error of this project that merely ends in an OS error
  // ("…/model.safetensors: write failed: No space left on device (os error 28)") already names
  // its file, which rebuilding it from its tail lost ("cannot use a file: …").
  if (!(e instanceof Error) || !isDenoError(e)) return e;
  const m = /^(.*?) \(os error (\d+)\)(?:: (\w+) '([^']*)'(?: -> '([^']*)')?)?$/s.exec(e.message);
  if (!m) return e;
  const [, text, code, op, path, to] = m;
  const detail = CODES[Number(code)] ?? text.toLowerCase();
  const what = op ? (OPS[op] ?? op) : "use";
  return new FileSystemError(
    to ? `${path} to ${to}` : (path ?? "a file"),
    what,
    detail,
    { cause: e },
  );
}

/**
 * Whether `e` is an error as Deno throws it (Error or a Deno.errors class), not a subclass. The
 * page's engine worker bundles this file and has no Deno: there only Error is Deno's (reached
 * through globalThis, so that the bundle names no Deno API, which scripts/build-web.ts refuses).
 */
function isDenoError(e: Error): boolean {
  const made = e.constructor;
  const denoErrors = (globalThis as { Deno?: { errors?: object } }).Deno?.errors ?? {};
  return made === Error || Object.values(denoErrors).some((c) => c === made);
}

/** The reason of an error in words: an OS error's plain meaning, else its message. */
export function fsReason(e: unknown): string {
  const f = fsError(e);
  if (f instanceof FileSystemError) return f.message.slice(f.message.lastIndexOf(": ") + 2);
  return (e as Error)?.message ?? String(e);
}

/**
 * Why JSON.parse refused a text, on one line: V8 quotes the text's start, line breaks and all
 * ('Unexpected token 'g', "garbage{\n" is not valid JSON'), which split an `error:` line in two.
 */
export function jsonReason(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).replace(/\r?\n/g, "\\n");
}

/**
 * Reads a whole text file, refusing before it is opened anything that is not a regular file
 * (links are followed): a FIFO would block forever and a device such as /dev/zero never ends.
 */
export async function readRegularText(path: string): Promise<string> {
  await checkRegularFile(path);
  return await Deno.readTextFile(path);
}

/**
 * A JSON file's contents, parsed (read as readRegularText reads); a failure is thrown as
 * `error(detail, cause)`, the detail "cannot read: <reason>" or "not valid JSON: <reason>", so
 * each caller names the file in its own error class.
 */
export async function readJsonFile(
  path: string,
  error: (detail: string, cause: unknown) => Error,
): Promise<unknown> {
  let text: string;
  try {
    text = await readRegularText(path);
  } catch (e) {
    throw error(`cannot read: ${fsReason(e)}`, e);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw error(`not valid JSON: ${jsonReason(e)}`, e);
  }
}

/** Throws unless `path` is a regular file (links followed), without opening it. */
export async function checkRegularFile(path: string): Promise<void> {
  const info = await Deno.stat(path);
  if (!info.isFile) {
    throw new Error(
      info.isDirectory
        ? "it is a folder, not a file"
        : "not a regular file (a pipe, socket or device); refused, since reading it could " +
          "block or never end",
    );
  }
}

/**
 * `dir/name` normalised as node:path's posix join does ("." and ".." resolved, repeated slashes
 * collapsed); written here so that modules a browser bundle reaches import no node built-in.
 */
export function joinPath(dir: string, name: string): string {
  const absolute = dir.startsWith("/");
  const parts: string[] = [];
  for (const part of `${dir}/${name}`.split("/")) {
    if (part === "" || part === ".") continue;
    if (part !== "..") parts.push(part);
    else if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
    else if (!absolute) parts.push(part);
  }
  const joined = parts.join("/");
  return absolute ? `/${joined}` : joined || ".";
}
