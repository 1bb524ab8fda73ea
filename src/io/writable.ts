// Whether a file could be written, asked before a long run rather than at its end: a folder at
// the path, a missing or read-only parent folder, a path through a file. Nothing is left behind
// (a probe file is removed, an existing file is opened without truncating it), and the error says
// what writing would have said (FileSystemError, "cannot write PATH: <reason>").

import { FileSystemError } from "./errors.ts";
import { fsReason } from "./files.ts";

/**
 * Throws FileSystemError unless `path` could be written now. Only a regular file or a new path
 * is probed: a pipe or device (/dev/null) is left to the write, as opening one could block.
 */
export async function checkWritable(path: string): Promise<void> {
  const refuse = (e: unknown) => new FileSystemError(path, "write", fsReason(e), { cause: e });
  const info = await Deno.stat(path).catch(() => null);
  if (info?.isDirectory) throw new FileSystemError(path, "write", "it is a folder, not a file");
  if (info && !info.isFile) return;
  try {
    if (info) {
      (await Deno.open(path, { write: true })).close();
      return;
    }
    (await Deno.open(path, { write: true, createNew: true })).close();
  } catch (e) {
    // A dangling link: the write creates its target, or says why it cannot.
    if (e instanceof Deno.errors.AlreadyExists) return;
    throw refuse(e);
  }
  await Deno.remove(path);
}
