// SHA-256 digests: of a text (UTF-8), and of a file's bytes read in chunks, so that a checkpoint of
// many gigabytes is hashed without being held in memory.

import { createHash } from "node:crypto";

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

/** The SHA-256 of a text's UTF-8 bytes, in hex. */
export async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
