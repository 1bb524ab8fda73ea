// Writing safetensors files, atomically (a temporary beside the file, renamed over it), tensor by
// tensor so that only one is on the host at a time; or a whole file in memory for a page.

import { SafetensorsError } from "../errors.ts";
import { DTYPE_BYTES, isCount, LITTLE_ENDIAN, type WriteDtype } from "./format.ts";
import { f32ToBf16Bits, f32ToF16Bits } from "./half.ts";

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
