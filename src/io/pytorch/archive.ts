// Where a torch.save file keeps its state dict and its storages' bytes: since PyTorch 1.6 a zip
// archive (data.pkl, data/<key> per storage, an optional byteorder); before, the legacy format,
// five pickles one after another (the magic number, the format version, the machine's sizes and
// byte order, the state dict, its storages' keys in order), then each storage as an 8-byte
// element count and its bytes.

import type { RandomAccess } from "../random-access.ts";
import { DTYPE_BYTES } from "../safetensors/format.ts";
import {
  DATA_ONLY,
  type Fail,
  MAX_PICKLE_BYTES,
  readStateDict,
  runPickle,
  type StateDict,
  type Storage,
  type TensorView,
} from "./state-dict.ts";
import { PickleEndError } from "./unpickle.ts";
import type { ZipEntry } from "./zip.ts";

/** Sets a storage's place in the file, checking that it holds the storage's bytes. */
function locate(
  fail: Fail,
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
export async function readZip(
  fail: Fail,
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
export async function readLegacy(
  fail: Fail,
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
  fail: Fail,
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
