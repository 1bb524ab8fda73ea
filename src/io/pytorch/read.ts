// PyTorch checkpoints (pytorch_model.bin) read as a safetensors file is: the file's format is
// recognised (a zip archive, or torch's legacy stream: archive.ts), its state dict read without
// running its pickle (state-dict.ts), and then each tensor read on its own, in place when it is
// contiguous in its storage, gathered when it is a strided view (a transpose, a slice, an expand).

import { TorchCheckpointError } from "../errors.ts";
import { fsReason } from "../files.ts";
import { bytesAccess, openRandomAccess, type RandomAccess } from "../random-access.ts";
import {
  DTYPE_BYTES,
  FLOAT_DTYPES,
  type FloatDtype,
  LITTLE_ENDIAN,
  type SafetensorsFile,
  type TensorInfo,
} from "../safetensors/format.ts";
import { floatsFromBytes } from "../safetensors/half.ts";
import { readLegacy, readZip } from "./archive.ts";
import type { TensorView } from "./state-dict.ts";
import { zipEntries, type ZipEntry, ZipError } from "./zip.ts";

/** Strides of a contiguous (row-major) tensor of `shape`. */
function contiguousStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let i = shape.length - 1, s = 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i];
  }
  return out;
}

/** Whether a view reads its elements in storage order (strides of size-1 dimensions are free). */
function isContiguous(v: TensorView): boolean {
  const want = contiguousStrides(v.shape);
  return v.shape.every((d, i) => d <= 1 || v.stride[i] === want[i]);
}

/** Reads the state dict of an opened file: a zip archive, or torch's legacy format. */
async function readArchive(path: string, src: RandomAccess): Promise<SafetensorsFile> {
  const fail = (field: string | null, detail: string): never => {
    throw new TorchCheckpointError(path, field, detail);
  };
  let entries: Map<string, ZipEntry> | null = null;
  try {
    entries = await zipEntries(src);
  } catch (e) {
    if (!(e instanceof ZipError)) throw e;
    const head = new Uint8Array(Math.min(2, src.size));
    await src.readAt(0, head);
    // A pickle of protocol 2 starts 0x80 0x02: the legacy format's first pickle.
    if (head[0] !== 0x80 || head[1] !== 0x02) fail(null, `not a torch.save archive: ${e.message}`);
  }
  const views = entries ? await readZip(fail, src, entries) : await readLegacy(fail, src);
  return new TorchCheckpoint(path, src, views);
}

class TorchCheckpoint implements SafetensorsFile {
  readonly metadata = {};
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  #src: RandomAccess | null;

  constructor(
    readonly path: string,
    src: RandomAccess,
    readonly views: ReadonlyMap<string, TensorView>,
  ) {
    this.#src = src;
    this.tensors = new Map(
      [...views].map(([name, v]) => {
        const numel = v.shape.reduce((a, d) => a * d, 1);
        const begin = v.storage.entry!.offset + v.offset * DTYPE_BYTES[v.storage.dtype];
        const info = {
          dtype: v.storage.dtype,
          shape: Object.freeze([...v.shape]),
          numel,
          begin,
          end: begin + numel * DTYPE_BYTES[v.storage.dtype],
        };
        return [name, info];
      }),
    );
  }

  async readRaw(name: string): Promise<Uint8Array> {
    const v = this.views.get(name);
    if (!v) throw new TorchCheckpointError(this.path, name, "no such tensor");
    if (!this.#src) throw new TorchCheckpointError(this.path, name, "file is closed");
    const width = DTYPE_BYTES[v.storage.dtype];
    const numel = this.tensors.get(name)!.numel;
    try {
      const out = new Uint8Array(numel * width);
      if (numel === 0) return out;
      if (isContiguous(v)) {
        await this.#src.readAt(v.storage.entry!.offset + v.offset * width, out);
        return out;
      }
      // A strided view (a transpose, a slice): read the span it touches, then gather.
      const last = v.shape.reduce((a, d, i) => a + (d - 1) * v.stride[i], v.offset);
      const span = new Uint8Array((last - v.offset + 1) * width);
      await this.#src.readAt(v.storage.entry!.offset + v.offset * width, span);
      const index = new Array<number>(v.shape.length).fill(0);
      for (let i = 0; i < numel; i++) {
        const at = index.reduce((a, k, d) => a + k * v.stride[d], 0) * width;
        out.set(span.subarray(at, at + width), i * width);
        for (let d = v.shape.length - 1; d >= 0 && ++index[d] === v.shape[d]; d--) index[d] = 0;
      }
      return out;
    } catch (e) {
      throw new TorchCheckpointError(this.path, name, `read failed: ${fsReason(e)}`, {
        cause: e,
      });
    }
  }

  async read(name: string): Promise<Float32Array> {
    const dtype = this.tensors.get(name)?.dtype;
    if (dtype !== undefined && !FLOAT_DTYPES.includes(dtype)) {
      throw new TorchCheckpointError(
        this.path,
        name,
        `dtype ${dtype} cannot be read as float32 (supported: ${FLOAT_DTYPES.join(", ")})`,
      );
    }
    const raw = await this.readRaw(name);
    // readRaw's bytes are a fresh buffer of their own: float32 ones are viewed, not copied.
    if (dtype === "F32" && LITTLE_ENDIAN) return new Float32Array(raw.buffer);
    return floatsFromBytes(dtype as FloatDtype, raw);
  }

  close(): void {
    this.#src?.close();
    this.#src = null;
  }
}

/** Opens a torch.save archive on disk and reads its state dict's layout (no tensor data). */
export async function openTorchCheckpoint(path: string): Promise<SafetensorsFile> {
  let file: RandomAccess;
  try {
    file = await openRandomAccess(path);
  } catch (e) {
    throw new TorchCheckpointError(path, null, `cannot open: ${fsReason(e)}`, { cause: e });
  }
  return await readGuarded(path, file);
}

/** A torch.save archive already in memory, read as openTorchCheckpoint reads a file. */
export async function torchCheckpointFromBytes(
  path: string,
  bytes: Uint8Array,
): Promise<SafetensorsFile> {
  return await readGuarded(path, bytesAccess(bytes));
}

/** readArchive, closing the source and naming the file on any failure. */
async function readGuarded(path: string, src: RandomAccess): Promise<SafetensorsFile> {
  try {
    return await readArchive(path, src);
  } catch (e) {
    src.close();
    if (e instanceof TorchCheckpointError) throw e;
    throw new TorchCheckpointError(path, null, `read failed: ${fsReason(e)}`, { cause: e });
  }
}
