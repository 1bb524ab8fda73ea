// The state dict a torch.save pickle describes, read with the restricted pickle reader
// (unpickle.ts): a dict of tensor names to strided views of storages, each storage named by a
// persistent id ('storage', type, key, location, count), each view's reach checked against its
// storage. Only what a state dict holds is built (OrderedDict, _rebuild_tensor_v2, parameters);
// any other name a pickle calls is refused. Where the storages' bytes are is the file format's
// business (archive.ts).

import type { ZipEntry } from "./zip.ts";
import { type Dtype, isCount } from "../safetensors/format.ts";
import {
  PickleEndError,
  PickleError,
  PyGlobal,
  PyTuple,
  unpickle,
  type UnpickleHooks,
} from "./unpickle.ts";

/** Throws the file's error naming a field; never returns. */
export type Fail = (field: string | null, detail: string) => never;

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
export const MAX_PICKLE_BYTES = 64 << 20;

export interface Storage {
  readonly key: string;
  readonly dtype: Dtype;
  readonly numel: number;
  /** Where its bytes are in the file (set once the pickle is read and the file searched). */
  entry: ZipEntry | null;
}

/** A tensor as the pickle describes it: a strided view of a storage. */
export class TensorView {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

function countsOf(x: unknown): number[] | null {
  return x instanceof PyTuple && x.items.every(isCount) ? [...x.items as number[]] : null;
}

/** A state dict's tensors as its pickle describes them, the storages they view, and its end. */
export interface StateDict {
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
export function readStateDict(
  fail: Fail,
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
export const DATA_ONLY: UnpickleHooks = {
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
export function runPickle(
  fail: Fail,
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
