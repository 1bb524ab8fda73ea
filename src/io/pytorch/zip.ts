// The entries of a zip archive, as torch.save writes one (PyTorch >= 1.6): found through the
// central directory (zip64 included, for files past 4 GB), each entry's data located by its local
// header. torch.save stores entries uncompressed, so an entry's bytes are read in place with a
// seek; a compressed or encrypted entry is refused, since reading one would need an inflater that
// a torch checkpoint never needs. Offsets and sizes are checked against the archive's size.

import type { RandomAccess } from "../random-access.ts";

export interface ZipEntry {
  readonly name: string;
  /** Absolute offset of the entry's data. */
  readonly offset: number;
  readonly size: number;
}

/** A zip archive is malformed or uses what torch.save never writes. */
export class ZipError extends Error {
  override name = "ZipError";
}

const EOCD = 0x06054b50, ZIP64_LOCATOR = 0x07064b50, ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50, LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;

/** A little-endian reader over one buffer, with bounds checked as it goes. */
class Cursor {
  readonly #dv: DataView;
  constructor(readonly bytes: Uint8Array, public pos = 0) {
    this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  #need(n: number): number {
    if (this.pos + n > this.bytes.length) throw new ZipError("central directory ends early");
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u16(): number {
    return this.#dv.getUint16(this.#need(2), true);
  }
  u32(): number {
    return this.#dv.getUint32(this.#need(4), true);
  }
  u64(): number {
    const v = this.#dv.getBigUint64(this.#need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`a 64-bit field is too large`);
    return Number(v);
  }
  take(n: number): Uint8Array {
    const at = this.#need(n);
    return this.bytes.subarray(at, at + n);
  }
}

async function readBytes(src: RandomAccess, pos: number, n: number): Promise<Uint8Array> {
  if (pos < 0 || pos + n > src.size) {
    throw new ZipError(`bytes [${pos}, ${pos + n}) lie past the ${src.size}-byte archive`);
  }
  const out = new Uint8Array(n);
  await src.readAt(pos, out);
  return out;
}

/** Where the central directory is and how many entries it has (zip64 followed when marked). */
async function centralDirectory(
  src: RandomAccess,
): Promise<{ offset: number; size: number; count: number }> {
  const tailStart = Math.max(0, src.size - 22 - MAX_COMMENT);
  const tail = await readBytes(src, tailStart, src.size - tailStart);
  const dv = new DataView(tail.buffer);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (dv.getUint32(i, true) === EOCD) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new ZipError("not a zip archive (no end-of-central-directory record)");
  const count = dv.getUint16(at + 10, true);
  const size = dv.getUint32(at + 12, true), offset = dv.getUint32(at + 16, true);
  if (count !== 0xffff && size !== 0xffffffff && offset !== 0xffffffff) {
    return { offset, size, count };
  }
  if (at < 20 || dv.getUint32(at - 20, true) !== ZIP64_LOCATOR) {
    throw new ZipError("zip64 sizes are marked but the zip64 locator is missing");
  }
  const z = new Cursor(await readBytes(src, Number(dv.getBigUint64(at - 12, true)), 56));
  if (z.u32() !== ZIP64_EOCD) throw new ZipError("the zip64 end record is missing");
  z.pos = 32;
  return { count: z.u64(), size: z.u64(), offset: z.u64() };
}

/** The zip64 extra field's values for the fields marked 0xffffffff, in the format's order. */
function zip64Values(extra: Uint8Array, want: number): number[] {
  const c = new Cursor(extra);
  while (c.pos + 4 <= extra.length) {
    const id = c.u16(), len = c.u16();
    const body = new Cursor(c.take(len));
    if (id === 0x0001) return Array.from({ length: want }, () => body.u64());
  }
  throw new ZipError("zip64 sizes are marked but the entry has no zip64 field");
}

/** Every entry of the archive by name, each checked to lie inside it. */
export async function zipEntries(src: RandomAccess): Promise<Map<string, ZipEntry>> {
  const { offset, size: dirSize, count } = await centralDirectory(src);
  const c = new Cursor(await readBytes(src, offset, dirSize));
  const entries = new Map<string, ZipEntry>();
  for (let i = 0; i < count; i++) {
    if (c.u32() !== CENTRAL) throw new ZipError(`central directory entry ${i} is malformed`);
    c.pos += 4;
    const flags = c.u16(), method = c.u16();
    c.pos += 8;
    let packed = c.u32(), size = c.u32();
    const nameLen = c.u16(), extraLen = c.u16(), commentLen = c.u16();
    c.pos += 8;
    let local = c.u32();
    const name = new TextDecoder().decode(c.take(nameLen));
    const extra = c.take(extraLen);
    c.pos += commentLen;
    const marked = [size, packed, local].filter((v) => v === 0xffffffff).length;
    if (marked > 0) {
      const values = zip64Values(extra, marked);
      if (size === 0xffffffff) size = values.shift()!;
      if (packed === 0xffffffff) packed = values.shift()!;
      if (local === 0xffffffff) local = values.shift()!;
    }
    if (flags & 1) throw new ZipError(`${name}: the entry is encrypted`);
    if (method !== 0 || packed !== size) {
      throw new ZipError(`${name}: the entry is compressed (method ${method}); torch.save stores`);
    }
    const head = new Cursor(await readBytes(src, local, 30));
    if (head.u32() !== LOCAL) throw new ZipError(`${name}: the local header is missing`);
    head.pos = 26;
    const data = local + 30 + head.u16() + head.u16();
    if (data + size > src.size) throw new ZipError(`${name}: the entry runs past the archive`);
    entries.set(name, { name, offset: data, size });
  }
  return entries;
}
