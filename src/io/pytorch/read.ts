// PyTorch checkpoints (pytorch_model.bin) as torch.save writes them: since 1.6 a zip archive whose
// data.pkl pickles the state dict, each tensor a call of torch._utils._rebuild_tensor_v2 on a
// storage kept as its own archive entry (data/<key>); before, the legacy format, pickles one after
// another and then the storages' bytes. The pickles are read by the restricted reader
// (unpickle.ts), which builds only what a state dict holds (OrderedDict, tensors, parameters) and
// refuses every other name; each tensor's shape, strides and storage are checked against the
// file, and the tensors are then read as a safetensors file's are, one at a time.

import { TorchCheckpointError } from "../errors.ts";
import { fsReason } from "../files.ts";
import { bytesAccess, openRandomAccess, type RandomAccess } from "../random-access.ts";
import {
  type Dtype,
  DTYPE_BYTES,
  FLOAT_DTYPES,
  type FloatDtype,
  LITTLE_ENDIAN,
  type SafetensorsFile,
  type TensorInfo,
} from "../safetensors/format.ts";
import { floatsFromBytes } from "../safetensors/half.ts";
import {
  PickleEndError,
  PickleError,
  PyGlobal,
  PyTuple,
  unpickle,
  type UnpickleHooks,
} from "./unpickle.ts";
import { zipEntries, type ZipEntry, ZipError } from "./zip.ts";

/** torch's storage classes and the dtype of their elements. */
const STORAGE_DTYPES: Readonly<Record<string, Dtype>> = {
  DoubleStorage: "F64",
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

/** Largest data.pkl read (a state dict's is kilobytes; its tensors are outside it). */
const MAX_PICKLE_BYTES = 64 << 20;

interface Storage {
  readonly key: string;
  readonly dtype: Dtype;
  readonly numel: number;
  /** Where its bytes are in the file (set once the pickle is read and the file searched). */
  entry: ZipEntry | null;
}

/** A tensor as the pickle describes it: a strided view of a storage. */
class TensorView {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function countsOf(x: unknown): number[] | null {
  return x instanceof PyTuple && x.items.every(isCount) ? [...x.items as number[]] : null;
}

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

/** A state dict's tensors as its pickle describes them, the storages they view, and its end. */
interface StateDict {
  readonly views: Map<string, TensorView>;
  readonly storages: Map<string, Storage>;
  readonly end: number;
}

/**
 * Runs the pickle at `start` of `bytes` (`where` names it in errors) with the restricted reader and
 * returns the state dict it builds. A persistent id is a storage: ('storage', type, key, location,
 * numel), and in the legacy format a sixth field, a view of another storage (refused; not written
 * since torch 0.4). The storages are located in the file afterwards.
 */
function readStateDict(
  fail: (field: string | null, detail: string) => never,
  where: string,
  bytes: Uint8Array,
  start: number,
  legacy: boolean,
): StateDict {
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    const items = pid instanceof PyTuple ? pid.items : [];
    const [tag, type, key, , numel, view] = items;
    if (
      items.length !== (legacy ? 6 : 5) || tag !== "storage" || typeof key !== "string" ||
      !isCount(numel)
    ) {
      fail(where, "a persistent id is not a storage ('storage', type, key, location, numel)");
    }
    if (legacy && view !== null) fail(`storage ${key}`, "a view of another storage is not read");
    const k = key as string;
    const dtype = type instanceof PyGlobal && type.module === "torch"
      ? STORAGE_DTYPES[type.name]
      : undefined;
    if (!dtype) fail(`storage ${k}`, `storage type ${String(type)} is not read`);
    const known = storages.get(k);
    if (known && (known.dtype !== dtype || known.numel !== numel)) {
      fail(`storage ${k}`, "named twice with another type or size");
    }
    const s = known ?? { key: k, dtype: dtype!, numel: numel as number, entry: null };
    storages.set(k, s);
    return s;
  };
  const reduce = (fn: PyGlobal, args: readonly unknown[]): unknown => {
    const name = String(fn);
    if (name === "collections.OrderedDict" && args.length === 0) return new Map();
    if (name === "torch._utils._rebuild_tensor_v2") {
      const [storage, offset, size, stride] = args;
      const shape = countsOf(size), strides = countsOf(stride);
      if (
        !(storage instanceof Object && storages.has((storage as Storage).key)) ||
        !isCount(offset) || !shape || !strides || shape.length !== strides.length
      ) {
        return fail(where, "a tensor's storage, offset, size or stride is malformed");
      }
      const s = storage as Storage;
      const last = shape.some((d) => d === 0)
        ? offset
        : shape.reduce((a, d, i) => a + (d - 1) * strides[i], offset as number);
      if (shape.every((d) => d > 0) && last >= s.numel) {
        fail(`storage ${s.key}`, `a tensor reads element ${last} of a ${s.numel}-element storage`);
      }
      return new TensorView(s, offset as number, shape, strides);
    }
    if (
      (name === "torch._utils._rebuild_parameter" ||
        name === "torch._utils._rebuild_parameter_with_state") && args[0] instanceof TensorView
    ) {
      return args[0];
    }
    return fail(
      where,
      `calls ${name}, which a state dict of tensors does not; refused (reading it would mean ` +
        "running code the file names)",
    );
  };
  const build = (obj: unknown, _state: unknown) => {
    // An OrderedDict's BUILD sets its _metadata (module versions), which loading does not need.
    if (!(obj instanceof Map)) fail(where, "sets the state of an object that is not a dict");
  };
  const { value: root, end } = runPickle(fail, where, bytes, start, {
    reduce,
    persistentLoad,
    build,
  });
  if (!(root instanceof Map)) fail(null, "does not hold a state dict (a dict of tensors)");
  const views = new Map<string, TensorView>();
  for (const [key, value] of root as Map<unknown, unknown>) {
    if (typeof key !== "string" || !(value instanceof TensorView)) {
      fail(
        String(key),
        "is not a tensor: the file holds more than a state dict (a training checkpoint? save " +
          "its model's state_dict)",
      );
    }
    views.set(key as string, value as TensorView);
  }
  return { views, storages, end };
}

/** Plain data only: a pickle that calls anything is refused by `hooks` or by this. */
const DATA_ONLY: UnpickleHooks = {
  reduce: (fn) => {
    throw new PickleError(`calls ${fn}, which plain data does not`);
  },
  persistentLoad: () => {
    throw new PickleError("names a persistent object, which plain data does not");
  },
  build: () => {
    throw new PickleError("sets an object's state, which plain data does not");
  },
};

/** unpickle, its PickleError (but a pickle cut short, for the caller to retry) as the file's. */
function runPickle(
  fail: (field: string | null, detail: string) => never,
  where: string,
  bytes: Uint8Array,
  start: number,
  hooks: UnpickleHooks,
): { value: unknown; end: number } {
  try {
    return unpickle(bytes, hooks, start);
  } catch (e) {
    if (e instanceof PickleError && !(e instanceof PickleEndError)) fail(where, e.message);
    throw e;
  }
}

/** Sets a storage's place in the file, checking that it holds the storage's bytes. */
function locate(
  fail: (field: string | null, detail: string) => never,
  s: Storage,
  entry: ZipEntry | undefined,
  what: string,
): void {
  if (!entry) return fail(`storage ${s.key}`, `the file has no ${what}`);
  const need = s.numel * DTYPE_BYTES[s.dtype];
  if (entry.size < need) {
    fail(`storage ${s.key}`, `holds ${entry.size} bytes, ${need} needed for ${s.numel} ${s.dtype}`);
  }
  s.entry = entry;
}

/** The state dict of a torch.save zip archive (PyTorch >= 1.6). */
async function readZip(
  fail: (field: string | null, detail: string) => never,
  src: RandomAccess,
  entries: Map<string, ZipEntry>,
): Promise<Map<string, TensorView>> {
  const pickles = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    fail(null, `not a torch.save archive: ${pickles.length} data.pkl entries (one expected)`);
  }
  const prefix = pickles[0].slice(0, -"data.pkl".length);
  const order = entries.get(`${prefix}byteorder`);
  if (order) {
    const b = new Uint8Array(Math.min(order.size, 16));
    await src.readAt(order.offset, b);
    const text = new TextDecoder().decode(b);
    if (text !== "little") fail("byteorder", `"${text}": only little-endian archives are read`);
  }
  const pkl = entries.get(pickles[0])!;
  if (pkl.size > MAX_PICKLE_BYTES) {
    fail("data.pkl", `${pkl.size} bytes, above the ${MAX_PICKLE_BYTES}-byte cap for a state dict`);
  }
  const pickle = new Uint8Array(pkl.size);
  await src.readAt(pkl.offset, pickle);
  let dict: StateDict;
  try {
    dict = readStateDict(fail, "data.pkl", pickle, 0, false);
  } catch (e) {
    if (e instanceof PickleEndError) fail("data.pkl", e.message);
    throw e;
  }
  for (const s of dict.storages.values()) {
    locate(fail, s, entries.get(`${prefix}data/${s.key}`), `${prefix}data/${s.key}`);
  }
  return dict.views;
}

/** torch's legacy format's magic number, the first pickle of such a file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * The state dict of torch's legacy format (before 1.6, or _use_new_zipfile_serialization=False):
 * five pickles one after another (the magic number, the format version, the machine's sizes and
 * byte order, the state dict, its storages' keys in order), then each storage as an 8-byte
 * element count and its bytes. The pickles are read from a prefix of the file that grows until
 * they fit (at most MAX_PICKLE_BYTES).
 */
async function readLegacy(
  fail: (field: string | null, detail: string) => never,
  src: RandomAccess,
): Promise<Map<string, TensorView>> {
  for (let n = Math.min(src.size, 1 << 20);; n = Math.min(src.size, n * 4)) {
    const bytes = new Uint8Array(n);
    await src.readAt(0, bytes);
    try {
      const magic = runPickle(fail, "magic number", bytes, 0, DATA_ONLY);
      if (magic.value !== LEGACY_MAGIC) fail(null, "not a torch.save file (no magic number)");
      const version = runPickle(fail, "version", bytes, magic.end, DATA_ONLY);
      if (version.value !== 1001) fail("version", `format version ${version.value} is not read`);
      const info = runPickle(fail, "sys_info", bytes, version.end, DATA_ONLY);
      if (!(info.value instanceof Map) || info.value.get("little_endian") !== true) {
        fail("sys_info", "only files written on a little-endian machine are read");
      }
      const dict = readStateDict(fail, "pickle", bytes, info.end, true);
      const keys = runPickle(fail, "storage keys", bytes, dict.end, DATA_ONLY);
      if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === "string")) {
        fail("storage keys", "not a list of storage keys");
      }
      await placeLegacyStorages(fail, src, dict.storages, keys.value as string[], keys.end);
      return dict.views;
    } catch (e) {
      if (!(e instanceof PickleEndError)) throw e;
      if (n >= src.size || n >= MAX_PICKLE_BYTES) fail(null, `the pickles end early: ${e.message}`);
    }
  }
}

/** Walks a legacy file's storages, each an 8-byte element count then its bytes, from `at`. */
async function placeLegacyStorages(
  fail: (field: string | null, detail: string) => never,
  src: RandomAccess,
  storages: Map<string, Storage>,
  keys: readonly string[],
  at: number,
): Promise<void> {
  const count = new Uint8Array(8);
  for (const key of keys) {
    const s = storages.get(key);
    if (!s) fail(`storage ${key}`, "listed, but no tensor uses it");
    if (at + 8 > src.size) fail(`storage ${key}`, "the file ends before it");
    await src.readAt(at, count);
    const numel = new DataView(count.buffer).getBigUint64(0, true);
    if (numel !== BigInt(s!.numel)) {
      fail(`storage ${key}`, `${numel} elements written, ${s!.numel} named in the pickle`);
    }
    const size = s!.numel * DTYPE_BYTES[s!.dtype];
    if (at + 8 + size > src.size) fail(`storage ${key}`, "the file ends inside it");
    locate(fail, s!, { name: key, offset: at + 8, size }, key);
    at += 8 + size;
  }
  for (const s of storages.values()) {
    if (!s.entry) fail(`storage ${s.key}`, "used by a tensor, but its bytes are not in the file");
  }
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
