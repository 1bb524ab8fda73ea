// Reading safetensors files: an 8-byte little-endian header length N, N bytes of JSON header,
// then the raw tensor bytes. The header is validated in full before anything else is trusted:
// sizes declared in it are never allocated until checked against the file, and each tensor is
// read on its own with a seek, so a checkpoint never has to fit in memory twice. A file already
// in memory (a page fetched it) is read through the same checks with safetensorsFromBytes.

import { SafetensorsError } from "../errors.ts";
import { fsReason, jsonReason } from "../files.ts";
import {
  bytesAccess,
  openRandomAccess,
  type RandomAccess,
  ShortReadError,
} from "../random-access.ts";
import {
  type Dtype,
  DTYPE_BYTES,
  FLOAT_DTYPES,
  type FloatDtype,
  isCount,
  LITTLE_ENDIAN,
  MAX_HEADER_BYTES,
  type SingleSafetensorsFile,
  type TensorInfo,
} from "./format.ts";
import { floatsFromBytes } from "./half.ts";
import { isPlainObject } from "../json.ts";

/** Reads exactly `out.length` bytes at `pos`, or throws naming what was being read. */
async function readExactly(
  file: RandomAccess,
  pos: number,
  out: Uint8Array,
  path: string,
  what: string | null,
): Promise<void> {
  try {
    await file.readAt(pos, out);
  } catch (e) {
    if (e instanceof ShortReadError) throw new SafetensorsError(path, what, e.message);
    throw e;
  }
}

/** A file too short to hold the 8-byte header length is refused. */
function checkFileSize(path: string, size: number): void {
  if (size < 8) {
    throw new SafetensorsError(path, null, `file is ${size} bytes, too short for a header`);
  }
}

/**
 * The header's byte length from the file's first 8 bytes (little-endian u64), refused above the
 * cap or past the end of a `size`-byte file.
 */
function headerLength(path: string, first8: Uint8Array, size: number): number {
  const declared = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      path,
      "header length",
      `declared header of ${declared} bytes exceeds the ${MAX_HEADER_BYTES}-byte cap`,
    );
  }
  const n = Number(declared);
  if (8 + n > size) {
    throw new SafetensorsError(
      path,
      "header length",
      `declared header of ${n} bytes runs past the end of the ${size}-byte file`,
    );
  }
  return n;
}

/** Opens a safetensors file read-only and validates its whole header. */
export async function openSafetensors(path: string): Promise<SingleSafetensorsFile> {
  let file: RandomAccess;
  try {
    file = await openRandomAccess(path);
  } catch (e) {
    throw new SafetensorsError(path, null, `cannot open: ${fsReason(e)}`, { cause: e });
  }
  try {
    const size = file.size;
    checkFileSize(path, size);
    const lenBytes = new Uint8Array(8);
    await readExactly(file, 0, lenBytes, path, "header length");
    const n = headerLength(path, lenBytes, size);
    const headerBytes = new Uint8Array(n);
    await readExactly(file, 8, headerBytes, path, "header");
    const header = parseHeader(path, headerBytes, size - 8 - n);
    return new SafetensorsReader(path, file, header.metadata, header.tensors, 8 + n);
  } catch (e) {
    file.close();
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError(path, null, `read failed: ${(e as Error).message}`, { cause: e });
  }
}

/** Validates a decoded header against a data region of `dataLen` bytes. */
function parseHeader(
  path: string,
  bytes: Uint8Array,
  dataLen: number,
): { metadata: Record<string, string>; tensors: Map<string, TensorInfo> } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SafetensorsError(path, "header", "header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(path, "header", `header is not valid JSON: ${jsonReason(e)}`);
  }
  if (!isPlainObject(json)) {
    throw new SafetensorsError(path, "header", "header JSON is not an object");
  }
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isPlainObject(entry)) {
        throw new SafetensorsError(path, "__metadata__", "must be an object of strings");
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") {
          throw new SafetensorsError(path, `__metadata__.${k}`, "metadata value is not a string");
        }
        metadata[k] = v;
      }
      continue;
    }
    tensors.set(name, parseTensorEntry(path, name, entry, dataLen));
  }
  // Data order: JSON.parse moves integer-like names to the front of an object, so header order
  // is not recoverable; offsets are (an empty tensor sorts before a non-empty one at its offset;
  // empty tensors at one offset keep header order, which nothing in the file can settle).
  const ordered = [...tensors.entries()].sort((a, b) =>
    a[1].begin - b[1].begin || a[1].end - b[1].end
  );
  // No two non-empty tensors may share bytes.
  const sorted = ordered.filter(([, t]) => t.end > t.begin);
  for (let i = 1; i < sorted.length; i++) {
    const [prevName, prev] = sorted[i - 1];
    const [name, t] = sorted[i];
    if (t.begin < prev.end) {
      throw new SafetensorsError(
        path,
        name,
        `data_offsets [${t.begin}, ${t.end}] overlap tensor "${prevName}" [${prev.begin}, ${prev.end}]`,
      );
    }
  }
  return { metadata, tensors: new Map(ordered) };
}

function parseTensorEntry(path: string, name: string, entry: unknown, dataLen: number): TensorInfo {
  if (!isPlainObject(entry)) {
    throw new SafetensorsError(path, name, "tensor entry is not an object");
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    throw new SafetensorsError(path, name, `unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new SafetensorsError(
      path,
      name,
      `shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new SafetensorsError(
      path,
      name,
      `data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLen) {
    throw new SafetensorsError(
      path,
      name,
      `data_offsets [${begin}, ${end}] lie outside the ${dataLen}-byte data region`,
    );
  }
  const width = DTYPE_BYTES[dtype as Dtype];
  // BigInt so absurd shapes cannot overflow into a matching size.
  const numel = (shape as number[]).reduce((p, d) => p * BigInt(d), 1n);
  if (numel * BigInt(width) !== BigInt(end - begin)) {
    throw new SafetensorsError(
      path,
      name,
      `shape [${shape.join(", ")}] of ${dtype} needs ${numel * BigInt(width)} bytes but ` +
        `data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return {
    dtype: dtype as Dtype,
    shape: Object.freeze([...shape as number[]]),
    numel: Number(numel),
    begin,
    end,
  };
}

/**
 * A whole safetensors file held in memory (e.g. fetched over HTTP), checked exactly as
 * openSafetensors checks a file; `path` names it in errors (a URL or a file name).
 */
export function safetensorsFromBytes(path: string, bytes: Uint8Array): SingleSafetensorsFile {
  const size = bytes.length;
  checkFileSize(path, size);
  const n = headerLength(path, bytes.subarray(0, 8), size);
  const header = parseHeader(path, bytes.subarray(8, 8 + n), size - 8 - n);
  return new SafetensorsReader(path, bytesAccess(bytes), header.metadata, header.tensors, 8 + n);
}

class SafetensorsReader implements SingleSafetensorsFile {
  #file: RandomAccess | null;

  constructor(
    readonly path: string,
    file: RandomAccess,
    readonly metadata: Readonly<Record<string, string>>,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly dataOffset: number,
  ) {
    this.#file = file;
  }

  #info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.path, name, "no such tensor");
    return t;
  }

  async #readInto(name: string, t: TensorInfo, out: Uint8Array): Promise<void> {
    if (!this.#file) throw new SafetensorsError(this.path, name, "file is closed");
    try {
      await readExactly(this.#file, this.dataOffset + t.begin, out, this.path, name);
    } catch (e) {
      if (e instanceof SafetensorsError) throw e;
      throw new SafetensorsError(this.path, name, `read failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  #alloc<T>(name: string, make: () => T): T {
    try {
      return make();
    } catch (e) {
      throw new SafetensorsError(this.path, name, `cannot allocate: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async readRaw(name: string): Promise<Uint8Array> {
    const t = this.#info(name);
    const out = this.#alloc(name, () => new Uint8Array(t.end - t.begin));
    await this.#readInto(name, t, out);
    return out;
  }

  async read(name: string): Promise<Float32Array> {
    const t = this.#info(name);
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      throw new SafetensorsError(
        this.path,
        name,
        `dtype ${t.dtype} cannot be read as float32 (supported: ${FLOAT_DTYPES.join(", ")})`,
      );
    }
    const n = t.numel;
    if (t.dtype === "F32") {
      const out = this.#alloc(name, () => new Float32Array(n));
      const bytes = new Uint8Array(out.buffer);
      await this.#readInto(name, t, bytes);
      if (!LITTLE_ENDIAN) swapInPlace(bytes, 4);
      return out;
    }
    const raw = this.#alloc(name, () => new Uint8Array(t.end - t.begin));
    await this.#readInto(name, t, raw);
    return this.#alloc(name, () => floatsFromBytes(t.dtype as FloatDtype, raw));
  }

  close(): void {
    if (this.#file) {
      this.#file.close();
      this.#file = null;
    }
  }
}

function swapInPlace(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}
