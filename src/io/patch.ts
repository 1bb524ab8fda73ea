// Sparse weight patches: exactly the entries an edit changed, as a safetensors file holding for
// each changed tensor N: `N::index` (I32 flat indices), `N::after` and `N::before` (F32 values),
// with the tensor shapes in the metadata and, where known, the dtype each had in the checkpoint
// the edit started from. apply() writes the edited values, revert() the original ones, both bit
// for bit.

import { SafetensorsError } from "./errors.ts";
import {
  encodeSafetensors,
  exactWriteDtype,
  FLOAT_DTYPES,
  type FloatDtype,
  openSafetensors,
  type SafetensorsFile,
  safetensorsFromBytes,
  type TensorToWrite,
  writeSafetensors,
} from "./safetensors.ts";

/** The entries of one tensor an edit changed, with their values before and after. */
export interface TensorChange {
  /** The parameter's Hugging Face tensor name (ParamInfo.name). */
  name: string;
  /** The whole tensor's shape, which the flat indices index in row-major order. */
  shape: readonly number[];
  /** Flat indices of entries whose bits changed, ascending. */
  indices: Uint32Array;
  /** Each changed entry's value before the edit, as f32, in the order of `indices`. */
  before: Float32Array;
  /** Each changed entry's value after the edit, as f32, in the order of `indices`. */
  after: Float32Array;
}

/**
 * Changes of successive edits of the same tensors as one per tensor: an entry keeps its first
 * `before` and its last `after` (sequential and batch outputs, KNE's dynamic ensemble).
 */
export function mergeChanges(all: TensorChange[][]): TensorChange[] {
  const byName = new Map<string, Map<number, { before: number; after: number }>>();
  const shapes = new Map<string, readonly number[]>();
  for (const changes of all) {
    for (const c of changes) {
      shapes.set(c.name, c.shape);
      let m = byName.get(c.name);
      if (!m) byName.set(c.name, m = new Map());
      c.indices.forEach((idx, k) => {
        const prev = m!.get(idx);
        m!.set(idx, { before: prev ? prev.before : c.before[k], after: c.after[k] });
      });
    }
  }
  return [...byName].map(([name, m]) => {
    const idx = [...m.keys()].sort((a, b) => a - b);
    return {
      name,
      shape: shapes.get(name)!,
      indices: Uint32Array.from(idx),
      before: Float32Array.from(idx, (i) => m.get(i)!.before),
      after: Float32Array.from(idx, (i) => m.get(i)!.after),
    };
  });
}

export const PATCH_FORMAT = "kne-sparse-patch-v1";

/** One tensor's entries of a patch file as decodePatch reads them (applyPatch writes them). */
export interface PatchEntry {
  /** The changed tensor's name in the model (`N` of `N::index`). */
  name: string;
  /** The whole tensor's shape (`__metadata__.shapes`). */
  shape: number[];
  /** Flat row-major indices of the changed entries (`N::index`): strictly ascending, in range. */
  indices: Int32Array;
  /** The entries' edited values (`N::after`), in the order of `indices`; all finite. */
  after: Float32Array;
  /** The entries' original values (`N::before`), in the order of `indices`; all finite. */
  before: Float32Array;
  /**
   * The tensor's dtype in the checkpoint the edit started from (`__metadata__.dtypes`); absent in
   * patches written before it was recorded.
   */
  dtype?: FloatDtype;
}

/** Each changed tensor's dtype in the checkpoint an edit started from, by parameter name. */
export type SourceDtypes = ReadonlyMap<string, string>;

/** The patch file's tensors and metadata for `changes` (`dtypes`: their source dtypes). */
function patchTensors(
  changes: readonly TensorChange[],
  metadata: Record<string, string>,
  dtypes: SourceDtypes,
): { tensors: TensorToWrite[]; metadata: Record<string, string> } {
  const shapes: Record<string, number[]> = {};
  const recorded: Record<string, string> = {};
  const tensors = changes.flatMap((c): TensorToWrite[] => {
    shapes[c.name] = [...c.shape];
    const dtype = dtypes.get(c.name);
    if (isFloatDtype(dtype)) recorded[c.name] = dtype;
    const k = c.indices.length;
    return [
      {
        name: `${c.name}::index`,
        shape: [k],
        data: Int32Array.from(c.indices),
        dtype: "I32" as const,
      },
      { name: `${c.name}::after`, shape: [k], data: c.after },
      { name: `${c.name}::before`, shape: [k], data: c.before },
    ];
  });
  const meta: Record<string, string> = {
    ...metadata,
    format: PATCH_FORMAT,
    shapes: JSON.stringify(shapes),
  };
  if (Object.keys(recorded).length) meta.dtypes = JSON.stringify(recorded);
  return { tensors, metadata: meta };
}

/**
 * Writes `changes` as a patch file; `dtypes` records each changed tensor's dtype in the source
 * checkpoint, so that revert can write it back in that dtype.
 */
export async function writePatch(
  path: string,
  changes: readonly TensorChange[],
  metadata: Record<string, string> = {},
  dtypes: SourceDtypes = new Map(),
): Promise<void> {
  const p = patchTensors(changes, metadata, dtypes);
  await writeSafetensors(path, p.tensors, p.metadata);
}

/** The bytes writePatch writes, in memory (a page offers them as patch.safetensors). */
export async function encodePatch(
  changes: readonly TensorChange[],
  metadata: Record<string, string> = {},
  dtypes: SourceDtypes = new Map(),
): Promise<Uint8Array> {
  const p = patchTensors(changes, metadata, dtypes);
  return await encodeSafetensors("patch.safetensors", p.tensors, p.metadata);
}

export async function readPatch(path: string): Promise<PatchEntry[]> {
  const f = await openSafetensors(path);
  try {
    return await patchEntries(f);
  } finally {
    f.close();
  }
}

/** The entries of a patch file held in memory (e.g. uploaded to a page); `path` names it. */
export async function decodePatch(path: string, bytes: Uint8Array): Promise<PatchEntry[]> {
  return await patchEntries(safetensorsFromBytes(path, bytes));
}

/** Checks and reads every entry of an open patch file. */
async function patchEntries(f: SafetensorsFile): Promise<PatchEntry[]> {
  const path = f.path;
  if (f.metadata.format !== PATCH_FORMAT) {
    throw new SafetensorsError(path, "__metadata__.format", `not a ${PATCH_FORMAT} file`);
  }
  let shapes: unknown;
  try {
    shapes = JSON.parse(f.metadata.shapes ?? "");
  } catch {
    throw new SafetensorsError(path, "__metadata__.shapes", "missing or invalid JSON");
  }
  if (typeof shapes !== "object" || shapes === null || Array.isArray(shapes)) {
    throw new SafetensorsError(path, "__metadata__.shapes", "must map tensor names to shapes");
  }
  const dtypes = recordedDtypes(f, shapes);
  const out: PatchEntry[] = [];
  for (const [name, shape] of Object.entries(shapes)) {
    const numel = shapeNumel(shape);
    if (numel === null) {
      throw new SafetensorsError(
        path,
        `__metadata__.shapes.${name}`,
        `invalid shape ${JSON.stringify(shape)} (a list of non-negative integers)`,
      );
    }
    const need = (suffix: string, dtype: string) => {
      const t = f.tensors.get(name + suffix);
      if (!t || t.dtype !== dtype) {
        throw new SafetensorsError(path, name + suffix, `missing or not ${dtype}`);
      }
      return t;
    };
    const it = need("::index", "I32");
    const k = it.numel;
    const raw = await f.readRaw(name + "::index");
    const indices = new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + 4 * k));
    if (need("::after", "F32").numel !== k || need("::before", "F32").numel !== k) {
      throw new SafetensorsError(path, name, "index, after and before differ in length");
    }
    let prev = -1;
    for (const i of indices) {
      if (i < 0 || i >= numel) {
        throw new SafetensorsError(path, `${name}::index`, `index ${i} outside [0, ${numel})`);
      }
      // Strictly ascending, as written: a repeated index would make revert ambiguous.
      if (i <= prev) {
        throw new SafetensorsError(path, `${name}::index`, "indices are not strictly ascending");
      }
      prev = i;
    }
    const values = async (suffix: "::after" | "::before") => {
      const v = await f.read(name + suffix);
      // An edit never writes a non-finite value (a diverging one is rolled back) and a model
      // holding one is refused as damaged: such a patch would make a model no command loads.
      const k = v.findIndex((x) => !Number.isFinite(x));
      if (k >= 0) {
        throw new SafetensorsError(
          path,
          name + suffix,
          `entry ${k} (index ${indices[k]}) is ${v[k]}: a patch holds finite values only (the ` +
            `file is damaged)`,
        );
      }
      return v;
    };
    out.push({
      name,
      shape: shape as number[],
      indices,
      after: await values("::after"),
      before: await values("::before"),
      ...(dtypes.has(name) ? { dtype: dtypes.get(name) } : {}),
    });
  }
  return out;
}

/**
 * The source dtypes a patch file records (`__metadata__.dtypes`: changed tensor names to float
 * dtypes); none in a patch written before they were.
 */
function recordedDtypes(f: SafetensorsFile, shapes: object): Map<string, FloatDtype> {
  const at = "__metadata__.dtypes";
  if (f.metadata.dtypes === undefined) return new Map();
  let dtypes: unknown;
  try {
    dtypes = JSON.parse(f.metadata.dtypes);
  } catch {
    throw new SafetensorsError(f.path, at, "invalid JSON");
  }
  if (typeof dtypes !== "object" || dtypes === null || Array.isArray(dtypes)) {
    throw new SafetensorsError(f.path, at, "must map tensor names to dtypes");
  }
  const out = new Map<string, FloatDtype>();
  for (const [name, dtype] of Object.entries(dtypes)) {
    if (!Object.hasOwn(shapes, name)) {
      throw new SafetensorsError(f.path, `${at}.${name}`, "names no tensor of the patch");
    }
    if (!isFloatDtype(dtype)) {
      throw new SafetensorsError(
        f.path,
        `${at}.${name}`,
        `${JSON.stringify(dtype)} is not one of ${FLOAT_DTYPES.join(", ")}`,
      );
    }
    out.set(name, dtype);
  }
  return out;
}

const isFloatDtype = (x: unknown): x is FloatDtype => (FLOAT_DTYPES as unknown[]).includes(x);

/**
 * The dtype to write a patched tensor's `data` in: the dtype the patch recorded for it (its
 * source checkpoint's) when the values are exact in it, else its `stored` dtype in the model
 * patched when they are exact in that, else F32. A revert thus gives back an F16 or BF16
 * tensor the edit trained in f32; a patch without recorded dtypes keeps the stored ones.
 */
export function patchedDtype(
  data: Float32Array,
  stored: string,
  entry?: PatchEntry,
): "F32" | "F16" | "BF16" {
  const recorded = entry?.dtype ? exactWriteDtype(data, entry.dtype) : "F32";
  return recorded !== "F32" ? recorded : exactWriteDtype(data, stored);
}

/** Element count of a shape, or null unless it is a list of non-negative safe integers. */
function shapeNumel(shape: unknown): number | null {
  if (!Array.isArray(shape)) return null;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) return null;
    n *= d;
  }
  return Number.isSafeInteger(n) ? n : null;
}

/** The bits of an f32 (so that NaN payloads and -0 compare exactly). */
const bits = (x: number) => {
  F32[0] = x;
  return U32[0];
};
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * Writes the patch's `after` (apply) or `before` (revert) values into weights, in place. Every
 * entry is checked first (tensor present with the patch's size, indices integers inside it,
 * values as many as indices), so a bad patch throws SafetensorsError and changes nothing. The
 * weights must hold, bit for bit, the values the patch starts from (`before` to apply, `after` to
 * revert): otherwise it would leave a mix of two models, so it is refused (SafetensorsError
 * naming the tensor, the first index that differs, how many do and why that may be), unless
 * `otherWeights`, when it is applied and the differences are returned as warnings.
 */
export function applyPatchTo(
  weights: Map<string, Float32Array>,
  patch: readonly PatchEntry[],
  direction: "apply" | "revert",
  opts: { otherWeights?: boolean; file?: string } = {},
): string[] {
  const file = opts.file ?? "patch";
  for (const e of patch) {
    const w = weights.get(e.name);
    const numel = shapeNumel(e.shape);
    if (!w || numel === null || w.length !== numel) {
      throw new SafetensorsError(
        file,
        e.name,
        "tensor missing from the model or of another size",
      );
    }
    const k = e.indices.length;
    if (e.after.length !== k || e.before.length !== k) {
      throw new SafetensorsError(file, e.name, "index, after and before differ in length");
    }
    for (const i of e.indices) {
      if (!Number.isInteger(i) || i < 0 || i >= numel) {
        throw new SafetensorsError(file, `${e.name}::index`, `index ${i} outside [0, ${numel})`);
      }
    }
  }
  const from = direction === "apply" ? "before" : "after";
  const warnings: string[] = [];
  for (const e of patch) {
    const w = weights.get(e.name)!;
    const expect = e[from];
    let differ = 0, first = -1;
    e.indices.forEach((i, j) => {
      if (bits(w[i]) !== bits(expect[j])) {
        if (differ++ === 0) first = j;
      }
    });
    if (differ === 0) continue;
    // An edit with --dtype f16 starts from the matrices rounded to f16, which no F32 file holds.
    const halves = direction === "apply" &&
      e.indices.every((i, j) => bits(Math.f16round(w[i])) === bits(expect[j]));
    const msg =
      `the model does not hold the values this patch ${
        direction === "apply" ? "was made from" : "produced"
      }: ${differ} of ${e.indices.length} entries differ from its "${from}" values, the first at ` +
      `index ${e.indices[first]} (model ${w[e.indices[first]]}, patch ${expect[first]}); ` +
      (halves
        ? "its values are these weights rounded to f16: it was made by an edit with --dtype f16, " +
          "whose own OUT/model holds the edited weights (--other-weights applies it here, the " +
          "weights it leaves keeping their f32 values)"
        : direction === "apply"
        ? "it was made from other weights (another model's), or is already applied to these"
        : "it was not applied to these weights, or they are another model's");
    if (!opts.otherWeights) throw new SafetensorsError(file, e.name, msg);
    warnings.push(`${file} [${e.name}]: ${msg}`);
  }
  for (const e of patch) {
    const w = weights.get(e.name)!;
    const src = direction === "apply" ? e.after : e.before;
    e.indices.forEach((i, j) => (w[i] = src[j]));
  }
  return warnings;
}
