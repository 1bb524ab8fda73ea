// Reading and writing safetensors files (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, N bytes of JSON header, then the raw tensor bytes.
// The header is validated in full before anything else is trusted: sizes declared in it are
// never allocated until checked against the file, and each tensor is read on its own with a
// seek, so a checkpoint never has to fit in memory twice. A file already in memory (a page
// fetched it) is read through the same checks with safetensorsFromBytes.

import { SafetensorsError } from "./errors.ts";
import { checkRegularFile, fsReason } from "./files.ts";

export { SafetensorsError };

/** Every dtype the safetensors format defines, with its width in bytes. */
export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;

export type Dtype = keyof typeof DTYPE_BYTES;

/** Dtypes `read` converts to float32 (F64 is rounded to nearest; the others are exact). */
export const FLOAT_DTYPES: readonly Dtype[] = ["F32", "F16", "BF16", "F64"];

/** Dtypes `writeSafetensors` can store (I32 from an Int32Array, e.g. indices). */
export type WriteDtype = "F32" | "F16" | "BF16" | "I32";

export interface TensorInfo {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Number of elements (product of the shape). */
  readonly numel: number;
  /** Byte offsets relative to the start of the data region, as in the header. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsFile {
  readonly path: string;
  /** The header's `__metadata__` string map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in data order (ascending offsets; what `writeSafetensors` was given). */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** Absolute byte offset of the data region in the file (8 + header length). */
  readonly dataOffset: number;
  /** Reads one tensor and converts it to float32 (F32, F16, BF16 exactly; F64 rounded). */
  read(name: string): Promise<Float32Array>;
  /** Reads one tensor's bytes as stored (little-endian). */
  readRaw(name: string): Promise<Uint8Array>;
  close(): void;
}

/** Largest header accepted (the format's reference implementation uses the same cap). */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Reads exactly `out.length` bytes at `pos`, or throws naming what was being read. */
async function readExactly(
  file: Deno.FsFile,
  pos: number,
  out: Uint8Array,
  path: string,
  what: string | null,
): Promise<void> {
  await file.seek(pos, Deno.SeekMode.Start);
  let off = 0;
  while (off < out.length) {
    const n = await file.read(out.subarray(off));
    if (n === null || n === 0) {
      throw new SafetensorsError(
        path,
        what,
        `file ends ${out.length - off} bytes early (truncated or changed while open)`,
      );
    }
    off += n;
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
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  let file: Deno.FsFile;
  try {
    // Not opened unless a regular file: opening a FIFO blocks, and a device never ends.
    await checkRegularFile(path);
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new SafetensorsError(path, null, `cannot open: ${fsReason(e)}`, { cause: e });
  }
  try {
    const { size } = await file.stat();
    checkFileSize(path, size);
    const lenBytes = new Uint8Array(8);
    await readExactly(file, 0, lenBytes, path, "header length");
    const n = headerLength(path, lenBytes, size);
    const headerBytes = new Uint8Array(n);
    await readExactly(file, 8, headerBytes, path, "header");
    const header = parseHeader(path, headerBytes, size - 8 - n);
    return new SafetensorsReader(path, fileSource(file), header.metadata, header.tensors, 8 + n);
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
    throw new SafetensorsError(path, "header", `header is not valid JSON: ${(e as Error).message}`);
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

/** Where a reader's bytes come from: an open file, or a whole file in memory. */
interface ByteSource {
  /** Fills `out` with the bytes at `pos`; `what` names them in errors. */
  readAt(pos: number, out: Uint8Array, path: string, what: string): Promise<void>;
  close(): void;
}

function fileSource(file: Deno.FsFile): ByteSource {
  return {
    readAt: (pos, out, path, what) => readExactly(file, pos, out, path, what),
    close: () => file.close(),
  };
}

/**
 * A whole safetensors file held in memory (e.g. fetched over HTTP), checked exactly as
 * openSafetensors checks a file; `path` names it in errors (a URL or a file name).
 */
export function safetensorsFromBytes(path: string, bytes: Uint8Array): SafetensorsFile {
  const size = bytes.length;
  checkFileSize(path, size);
  const n = headerLength(path, bytes.subarray(0, 8), size);
  const header = parseHeader(path, bytes.subarray(8, 8 + n), size - 8 - n);
  const source: ByteSource = {
    readAt: (pos, out) => {
      out.set(bytes.subarray(pos, pos + out.length));
      return Promise.resolve();
    },
    close: () => {},
  };
  return new SafetensorsReader(path, source, header.metadata, header.tensors, 8 + n);
}

class SafetensorsReader implements SafetensorsFile {
  #file: ByteSource | null;
  // Reads share one file position: serialise them.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    file: ByteSource,
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

  #readInto(name: string, t: TensorInfo, out: Uint8Array): Promise<void> {
    const run = async () => {
      if (!this.#file) throw new SafetensorsError(this.path, name, "file is closed");
      try {
        await this.#file.readAt(this.dataOffset + t.begin, out, this.path, name);
      } catch (e) {
        if (e instanceof SafetensorsError) throw e;
        throw new SafetensorsError(this.path, name, `read failed: ${(e as Error).message}`, {
          cause: e,
        });
      }
    };
    const p = this.#queue.then(run);
    this.#queue = p.catch(() => {});
    return p;
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
    const out = this.#alloc(name, () => new Float32Array(n));
    const dv = new DataView(raw.buffer);
    if (t.dtype === "F64") {
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    const bits = new Uint32Array(out.buffer);
    if (t.dtype === "BF16") {
      for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
    } else {
      const table = f16Table();
      for (let i = 0; i < n; i++) bits[i] = table[dv.getUint16(2 * i, true)];
    }
    return out;
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

// ---- float16 / bfloat16 conversions (bit exact) ----

let F16_TO_F32_BITS: Uint32Array | null = null;

/** float32 bit patterns of all 65536 float16 values (exact, NaN payloads kept). */
function f16Table(): Uint32Array {
  if (F16_TO_F32_BITS) return F16_TO_F32_BITS;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToF32Bits(h);
  return (F16_TO_F32_BITS = t);
}

export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let man = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (man << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (man << 13)) >>> 0;
  if (man === 0) return sign >>> 0;
  // Subnormal: normalise. Value is man * 2^-24.
  let e = 113;
  while ((man & 0x400) === 0) {
    man <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((man & 0x3ff) << 13)) >>> 0;
}

const SCRATCH_F32 = new Float32Array(1);
const SCRATCH_U32 = new Uint32Array(SCRATCH_F32.buffer);

/** float16 bits of the float32 nearest to `x`, rounded to nearest, ties to even. */
export function f32ToF16Bits(x: number): number {
  SCRATCH_F32[0] = x;
  const u = SCRATCH_U32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 | (man >>> 13) : 0);
  if (exp > 142) return sign | 0x7c00;
  if (exp >= 113) {
    let h = ((exp - 112) << 10) | (man >>> 13);
    const rest = man & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // a carry may reach infinity: right
    return sign | h;
  }
  if (exp < 102) return sign; // below half the smallest subnormal (2^-25): zero
  const m = 0x800000 | man;
  const shift = 126 - exp;
  let h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1))) h++;
  return sign | h;
}

/**
 * The dtype to write `data` back as: `stored` (F16 or BF16) when every value is exact in it, so
 * a half-precision checkpoint stays half size, else F32 (nothing is rounded).
 */
export function exactWriteDtype(data: Float32Array, stored: string): "F32" | "F16" | "BF16" {
  if (stored !== "F16" && stored !== "BF16") return "F32";
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (x !== x) continue; // NaN: NaN either way
    const exact = stored === "F16" ? Math.f16round(x) === x : (bits[i] & 0xffff) === 0;
    if (!exact) return "F32";
  }
  return stored;
}

/** bfloat16 bits of the float32 nearest to `x`, rounded to nearest, ties to even. */
export function f32ToBf16Bits(x: number): number {
  SCRATCH_F32[0] = x;
  const u = SCRATCH_U32[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---- writing ----

export type TensorToWrite =
  | {
    name: string;
    shape: readonly number[];
    /**
     * The values, or a function that reads them when the tensor's turn to be written comes (so
     * that only one tensor is on the host at a time, e.g. a model streamed off the device).
     */
    data: Float32Array | (() => Promise<Float32Array>);
    /** Stored dtype (default F32); F16 and BF16 round to nearest even. */
    dtype?: "F32" | "F16" | "BF16";
  }
  | { name: string; shape: readonly number[]; data: Int32Array; dtype: "I32" };

const CHUNK_ELEMENTS = 1 << 20;

/**
 * Writes tensors (in the given order) and optional metadata to `path` atomically: the data
 * goes to a temporary file in the same folder, which is then renamed over `path`.
 */
export async function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): Promise<void> {
  const header = encodeHeader(path, tensors, metadata);
  // A hidden temporary beside `path` (same folder, so the rename stays on one filesystem).
  const cut = path.lastIndexOf("/") + 1;
  const tmp = `${path.slice(0, cut)}.${path.slice(cut)}.${Deno.pid}-${
    crypto.randomUUID().slice(0, 8)
  }.tmp`;
  let file: Deno.FsFile | null = null;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
    await writeAll(file, header);
    for (const t of tensors) {
      const dtype = t.dtype ?? "F32";
      const data = typeof t.data === "function" ? await t.data() : t.data;
      checkLength(path, t.name, t.shape, data);
      for (let start = 0; start < data.length; start += CHUNK_ELEMENTS) {
        const chunk = data.subarray(start, Math.min(data.length, start + CHUNK_ELEMENTS));
        await writeAll(file, encodeChunk(chunk, dtype));
      }
    }
    await file.syncData();
    file.close();
    file = null;
    await Deno.rename(tmp, path);
  } catch (e) {
    if (file) file.close();
    await Deno.remove(tmp).catch(() => {});
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError(path, null, `write failed: ${(e as Error).message}`, { cause: e });
  }
}

/** The length prefix and JSON header of a file holding `tensors`; checks names and shapes. */
function encodeHeader(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): Uint8Array {
  // An ordered list, not an object: a JS object would move integer-like names to the front.
  const entries: [string, unknown][] = [];
  const seen = new Set<string>();
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new SafetensorsError(path, `__metadata__.${k}`, "metadata value is not a string");
      }
    }
    entries.push(["__metadata__", metadata]);
  }
  let offset = 0;
  for (const t of tensors) {
    const dtype = t.dtype ?? "F32";
    if (t.name === "__metadata__" || seen.has(t.name)) {
      throw new SafetensorsError(path, t.name, "duplicate or reserved tensor name");
    }
    seen.add(t.name);
    const isInt = t.data instanceof Int32Array;
    if (isInt !== (dtype === "I32") || !["F32", "F16", "BF16", "I32"].includes(dtype)) {
      throw new SafetensorsError(
        path,
        t.name,
        `cannot write ${t.data.constructor.name} data as dtype ${dtype}`,
      );
    }
    if (!t.shape.every((d) => isCount(d))) {
      throw new SafetensorsError(path, t.name, `bad shape [${t.shape.join(", ")}]`);
    }
    const numel = t.shape.reduce((p, d) => p * d, 1);
    if (typeof t.data !== "function") checkLength(path, t.name, t.shape, t.data);
    const bytes = numel * DTYPE_BYTES[dtype];
    entries.push([t.name, { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] }]);
    offset += bytes;
  }
  let json = "{" + entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",") +
    "}";
  // Pad with spaces so the data region starts on an 8-byte boundary.
  const encoded = new TextEncoder().encode(json);
  json += " ".repeat((8 - (encoded.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  return out;
}

/**
 * A whole safetensors file in memory (what writeSafetensors would write; e.g. for a page to
 * download); `path` names it in errors.
 */
export async function encodeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const parts = [encodeHeader(path, tensors, metadata)];
  for (const t of tensors) {
    const data = typeof t.data === "function" ? await t.data() : t.data;
    checkLength(path, t.name, t.shape, data);
    parts.push(encodeChunk(data, t.dtype ?? "F32").slice());
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function checkLength(
  path: string,
  name: string,
  shape: readonly number[],
  data: Float32Array | Int32Array,
): void {
  const numel = shape.reduce((p, d) => p * d, 1);
  if (numel !== data.length) {
    throw new SafetensorsError(
      path,
      name,
      `shape [${shape.join(", ")}] has ${numel} elements but data has ${data.length}`,
    );
  }
}

function encodeChunk(chunk: Float32Array | Int32Array, dtype: WriteDtype): Uint8Array {
  if (dtype === "F32" || dtype === "I32") {
    if (LITTLE_ENDIAN) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out = new Uint8Array(chunk.length * 4);
    const dv = new DataView(out.buffer);
    if (chunk instanceof Int32Array) chunk.forEach((x, i) => dv.setInt32(4 * i, x, true));
    else chunk.forEach((x, i) => dv.setFloat32(4 * i, x, true));
    return out;
  }
  const out = new Uint8Array(chunk.length * 2);
  const dv = new DataView(out.buffer);
  const conv = dtype === "F16" ? f32ToF16Bits : f32ToBf16Bits;
  for (let i = 0; i < chunk.length; i++) dv.setUint16(2 * i, conv(chunk[i]), true);
  return out;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}
