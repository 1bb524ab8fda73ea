// Kernel specifications: the single description of each kernel that both backends share.
// A kernel named N is the AssemblyScript export N in engine/assembly/ and the WGSL entry point
// `main` of engine/wgsl/N.wgsl. Buffers bind in order (inputs, then outputs) at @binding(0..),
// followed by one uniform struct of scalar params at the next binding, fields in `params` order.
// Bindings are f32 unless `dtypes` names them f16; such a kernel may reuse another kernel's WGSL
// (`source`) with pipeline-overridable constants set (`constants`, WGSL `override`).

import { BackendError, type Binding, type DType, isSlice, type KernelParams } from "../backend.ts";

export type ParamType = "u32" | "f32";

export interface KernelSpec {
  readonly name: string;
  /** Read-only buffers. */
  readonly inputs: readonly string[];
  /** Read-write buffers (written, possibly also read, e.g. accumulators). */
  readonly outputs: readonly string[];
  /** Bindings whose elements are f16 (all others are f32). */
  readonly dtypes?: Readonly<Record<string, DType>>;
  /** WGSL file (without .wgsl) when it is not `name`: an f16 variant of an f32 kernel. */
  readonly source?: string;
  /** Values of the WGSL file's `override` constants for this kernel (WebGPU only). */
  readonly constants?: Readonly<Record<string, number>>;
  /** Scalar parameters in call order. */
  readonly params: readonly (readonly [string, ParamType])[];
  /** Minimum element count each buffer must hold, inputs then outputs. */
  sizes(p: Readonly<Record<string, number>>): readonly number[];
  /** WebGPU workgroup grid for these params. */
  grid(p: Readonly<Record<string, number>>): readonly [number, number, number];
  /**
   * The call is independent pieces (rows, elements, batch items), as many as the param `over`:
   * piece i reads and writes only elements [i s, (i + 1) s) of each binding, s its entry of
   * `strides` (0: a binding every piece reads whole, such as a norm's gamma). A backend may run
   * ranges of pieces as separate calls, each binding offset to its range and `over` set to the
   * range's length (the WASM backend does, on its threads). A range holds a multiple of
   * `align` pieces (default 1), except the last. `cost` is the work per element against a plain
   * copy (default 1; about 8 where each element takes an exp): what splitting a call is weighed
   * by. Absent: the call is one piece.
   */
  readonly pieces?: Pieces;
}

export interface Pieces {
  readonly over: string;
  strides(p: Readonly<Record<string, number>>): readonly number[];
  align?(p: Readonly<Record<string, number>>): number;
  readonly cost?: number;
}

/** Work per element of a kernel that takes an exp (or a tanh) per element, against a copy. */
export const EXP_COST = 8;

/** Pieces of a kernel whose `bindings` bindings hold one element per piece each. */
export function elementPieces(bindings: number, cost = 1): Pieces {
  return { over: "n", strides: () => Array<number>(bindings).fill(1), align: () => 4, cost };
}

/** Row pieces: each binding's elements per row (0: shared by every row). */
export function rowPieces(
  strides: (p: Readonly<Record<string, number>>) => number[],
  cost = 1,
): Pieces {
  return { over: "rows", strides, cost };
}

/** Most workgroups one grid dimension may hold in WebGPU. */
export const MAX_GROUPS_PER_DIM = 65535;

/**
 * A 1-D launch of `n` invocations in groups of `groupSize`, folded into a 2-D grid when it needs
 * more than 65535 groups. WGSL recovers the flat index as
 * `(wid.y * nwg.x + wid.x) * groupSize + lid.x` and must bounds-check it against n.
 */
export function grid1d(n: number, groupSize = 256): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / groupSize));
  if (groups <= MAX_GROUPS_PER_DIM) return [groups, 1, 1];
  return [MAX_GROUPS_PER_DIM, Math.ceil(groups / MAX_GROUPS_PER_DIM), 1];
}

export function bindingLength(b: Binding): number {
  return isSlice(b) ? b.length : b.length;
}

/** The dtype a kernel expects for its binding `name`. */
export function bindingDtype(spec: KernelSpec, name: string): DType {
  return spec.dtypes?.[name] ?? "f32";
}

/** Named view of positional params. */
export function namedParams(spec: KernelSpec, params: KernelParams): Record<string, number> {
  const out: Record<string, number> = {};
  spec.params.forEach(([n], i) => out[n] = params[i]);
  return out;
}

/**
 * Checks a dispatch against its spec before any backend touches memory: buffer count, param
 * count and types, buffer sizes, liveness and owner. Throws a BackendError naming the problem.
 */
export function validateDispatch(
  spec: KernelSpec,
  backendName: string,
  buffers: readonly Binding[],
  params: KernelParams,
): Record<string, number> {
  const names = [...spec.inputs, ...spec.outputs];
  if (buffers.length !== names.length) {
    throw new BackendError(
      `kernel ${spec.name}: expected ${names.length} buffers (${
        names.join(", ")
      }), got ${buffers.length}`,
    );
  }
  if (params.length !== spec.params.length) {
    throw new BackendError(
      `kernel ${spec.name}: expected ${spec.params.length} params (${
        spec.params.map(([n]) => n).join(", ")
      }), got ${params.length}`,
    );
  }
  spec.params.forEach(([n, t], i) => {
    const v = params[i];
    if (!Number.isFinite(v) && t === "u32") {
      throw new BackendError(`kernel ${spec.name}: param ${n} must be finite, got ${v}`);
    }
    if (t === "u32" && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new BackendError(`kernel ${spec.name}: param ${n} must be a u32, got ${v}`);
    }
  });
  const p = namedParams(spec, params);
  const need = spec.sizes(p);
  buffers.forEach((b, i) => {
    const buf = isSlice(b) ? b.buffer : b;
    if (buf.freed) {
      throw new BackendError(`kernel ${spec.name}: buffer ${names[i]} (#${buf.id}) was freed`);
    }
    if (buf.backend.name !== backendName) {
      throw new BackendError(
        `kernel ${spec.name}: buffer ${
          names[i]
        } (#${buf.id}) belongs to the ${buf.backend.name} backend, dispatched on ${backendName}`,
      );
    }
    const want = bindingDtype(spec, names[i]);
    if (buf.dtype !== want) {
      throw new BackendError(
        `kernel ${spec.name}: buffer ${names[i]} (#${buf.id}) holds ${buf.dtype}, the kernel ` +
          `reads ${want}`,
      );
    }
    if (isSlice(b) && (b.offset < 0 || b.offset + b.length > buf.length)) {
      throw new BackendError(
        `kernel ${spec.name}: slice of ${names[i]} [${b.offset}, ${
          b.offset + b.length
        }) is outside its buffer of ${buf.length}`,
      );
    }
    if (bindingLength(b) < need[i]) {
      throw new BackendError(
        `kernel ${spec.name}: buffer ${names[i]} holds ${bindingLength(b)} elements, needs ${
          need[i]
        } for params ${JSON.stringify(p)}`,
      );
    }
  });
  return p;
}
