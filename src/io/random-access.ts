// Positional reads of a file on disk or of bytes in memory, for the weight-file readers. A file is
// opened only when it is a regular file (opening a FIFO blocks, and a device never ends), and the
// reads of one file are serialised, since they share its position. A read past the end (a file
// truncated, or changed while open) is a ShortReadError saying how many bytes were missing.

import { checkRegularFile } from "./files.ts";

export interface RandomAccess {
  readonly size: number;
  /** Fills `out` with the bytes at `pos`. */
  readAt(pos: number, out: Uint8Array): Promise<void>;
  close(): void;
}

export class ShortReadError extends Error {
  override name = "ShortReadError";
  constructor(readonly missing: number) {
    super(`file ends ${missing} bytes early (truncated or changed while open)`);
  }
}

/** Opens a regular file for positional reads; its size is taken once, at opening. */
export async function openRandomAccess(path: string): Promise<RandomAccess> {
  await checkRegularFile(path);
  const file = await Deno.open(path, { read: true });
  let size: number;
  try {
    size = (await file.stat()).size;
  } catch (e) {
    file.close();
    throw e;
  }
  let queue: Promise<unknown> = Promise.resolve();
  const readAt = async (pos: number, out: Uint8Array) => {
    await file.seek(pos, Deno.SeekMode.Start);
    for (let off = 0; off < out.length;) {
      const n = await file.read(out.subarray(off));
      if (n === null || n === 0) throw new ShortReadError(out.length - off);
      off += n;
    }
  };
  return {
    size,
    readAt(pos, out) {
      const p = queue.then(() => readAt(pos, out));
      queue = p.catch(() => {});
      return p;
    },
    close: () => file.close(),
  };
}

/** Bytes in memory (a file a page fetched) read as a file is. */
export function bytesAccess(bytes: Uint8Array): RandomAccess {
  return {
    size: bytes.length,
    readAt(pos, out) {
      const have = Math.max(0, Math.min(out.length, bytes.length - pos));
      if (have < out.length) return Promise.reject(new ShortReadError(out.length - have));
      out.set(bytes.subarray(pos, pos + out.length));
      return Promise.resolve();
    },
    close() {},
  };
}
