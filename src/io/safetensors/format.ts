// The safetensors format's vocabulary (https://github.com/huggingface/safetensors): its dtypes
// and their widths, what a header says of a tensor, the reader's interface, and the header cap.

/** Every dtype the safetensors format defines (a type of its own, so that mod.ts can name it). */
export type Dtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL"
  | "F8_E4M3"
  | "F8_E5M2";

/** The width of every dtype in bytes. */
export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = {
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
};

/** Dtypes `read` converts to float32 (F64 is rounded to nearest; the others are exact). */
export type FloatDtype = "F32" | "F16" | "BF16" | "F64";
export const FLOAT_DTYPES: readonly Dtype[] = ["F32", "F16", "BF16", "F64"] satisfies FloatDtype[];

/** Dtypes `writeSafetensors` can store (I32 from an Int32Array, e.g. indices). */
export type WriteDtype = "F32" | "F16" | "BF16" | "I32";

/** What a safetensors header says of one tensor. */
export interface TensorInfo {
  /** How the tensor's elements are stored. */
  readonly dtype: Dtype;
  /** Its dimensions, outermost first (row-major); [] for a scalar. */
  readonly shape: readonly number[];
  /** Number of elements (product of the shape). */
  readonly numel: number;
  /** Byte offsets relative to the start of the data region, as in the header. */
  readonly begin: number;
  /** Byte offset just past the tensor's data (exclusive), relative to the data region. */
  readonly end: number;
}

/** A checkpoint's tensors, read one at a time (a safetensors or PyTorch file, or shards). */
export interface SafetensorsFile {
  /** The file it reads (a sharded checkpoint's index file), or the name given for bytes. */
  readonly path: string;
  /** The header's `__metadata__` string map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in data order (ascending offsets; what `writeSafetensors` was given). */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** Reads one tensor and converts it to float32 (F32, F16, BF16 exactly; F64 rounded). */
  read(name: string): Promise<Float32Array>;
  /** Reads one tensor's bytes as stored (little-endian). */
  readRaw(name: string): Promise<Uint8Array>;
  /** Closes the file (every shard's); idempotent. Reads after it fail. */
  close(): void;
}

/** One file (not shards read as one): where its data region starts. */
export interface SingleSafetensorsFile extends SafetensorsFile {
  /** Absolute byte offset of the data region in the file (8 + header length). */
  readonly dataOffset: number;
}

/** Largest header accepted (the format's reference implementation uses the same cap). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Whether this machine stores numbers little-endian, as the format does. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A JSON number that can be a size, an offset or a dimension. */
export function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}
